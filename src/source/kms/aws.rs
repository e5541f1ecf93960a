//! AWS KMS keys: `Decrypt` and `Encrypt` through the aws source's client, its credential chain
//! (a key's `profile` chosen as `AWS_PROFILE` would, its `role` assumed with what the chain
//! finds) and its endpoint rules (`AWS_ENDPOINT_URL_KMS`, else `AWS_ENDPOINT_URL`, else the
//! regional endpoint of the key's own region).

use std::collections::BTreeMap;
use std::ffi::OsString;

use zeroize::Zeroizing;

use super::{KmsClients, KmsKey, MAX_ANSWER};
use crate::error::{Error, Kind};
use crate::source::aws::AwsSource;
use crate::source::aws::client::KmsTarget;

/// One aws client (and its credentials) per (profile, role) the keys name.
#[derive(Default)]
pub(super) struct Clients {
    by_identity: BTreeMap<(Option<String>, Option<String>), AwsSource>,
}

impl Clients {
    /// The client for `key`'s profile and role, and the key's ARN, context and region.
    fn client<'k>(
        &mut self,
        key: &'k KmsKey,
        with: &KmsClients,
    ) -> Result<(&mut AwsSource, KmsTarget<'k>, &'k str), Error> {
        let KmsKey::Aws {
            arn,
            context,
            role,
            profile,
        } = key
        else {
            return Err(Error::new(Kind::Config, "not an AWS key"));
        };
        // arn:PARTITION:kms:REGION:... (checked when the key was parsed).
        let region = arn.split(':').nth(3).unwrap_or_default();
        let source = self
            .by_identity
            .entry((profile.clone(), role.clone()))
            .or_insert_with(|| {
                let mut env = with.env.clone();
                if let Some(p) = profile {
                    env.set("AWS_PROFILE", OsString::from(p));
                }
                AwsSource::new(with.aws.clone(), env, with.outputs.clone(), MAX_ANSWER)
                    .assuming(role.clone())
                    .for_program(with.program.clone())
            });
        Ok((source, KmsTarget { arn, context }, region))
    }

    pub(super) fn unwrap(
        &mut self,
        key: &KmsKey,
        wrapped: &[u8],
        with: &KmsClients,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let (source, target, region) = self.client(key, with)?;
        source.kms_decrypt(region, &target, wrapped)
    }

    pub(super) fn wrap(
        &mut self,
        key: &KmsKey,
        data_key: &[u8],
        with: &KmsClients,
    ) -> Result<Vec<u8>, Error> {
        let (source, target, region) = self.client(key, with)?;
        source.kms_encrypt(region, &target, data_key)
    }
}
