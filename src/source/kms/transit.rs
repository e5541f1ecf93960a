//! transit keys (not yet wired: every use is refused with a clear error).

use zeroize::Zeroizing;

#[allow(unused_imports)]
use super::{KmsClients, KmsKey};
use crate::error::{Error, Kind};

#[derive(Default)]
pub(super) struct Clients;

impl Clients {
    pub(super) fn unwrap(
        &mut self,
        key: &KmsKey,
        _: &[u8],
        _: &KmsClients,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let _ = key;
        Err(Error::new(
            Kind::Config,
            "transit keys are not supported yet",
        ))
    }

    pub(super) fn wrap(
        &mut self,
        key: &KmsKey,
        _: &[u8],
        _: &KmsClients,
    ) -> Result<Vec<u8>, Error> {
        let _ = key;
        Err(Error::new(
            Kind::Config,
            "transit keys are not supported yet",
        ))
    }
}
