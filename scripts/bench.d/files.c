/* The floor of an atomic multi-file delivery, for scripts/bench.d/core.sh: in DIR, make a staging
 * dir, create N files there (O_CREAT|O_EXCL, 0600, write, fchmod), rename each into DIR, remove the
 * staging dir, then exec argv[3..]. The same filesystem work secret-init does, without a manifest,
 * sources or checks, and no fsync. Usage: files DIR N PROGRAM [ARGS...]
 * With FILES_SRC=SRC in the environment each file is SRC/k<i>, read first (open, one read, close)
 * and written as k<i>, as a file secret is; with FILES_DIRECT=1 too, the files are written in DIR
 * itself with no staging dir and no rename: a copy, to tell what the atomic publish costs. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    int n = atoi(argv[2]);
    const char *src = getenv("FILES_SRC");
    int direct = src && getenv("FILES_DIRECT");
    char name[64], buf[4096];
    if (mkdir(argv[1], 0700) != 0) return 3;
    int dir = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return 3;
    int st = dir;
    if (!direct) {
        if (mkdirat(dir, ".staging", 0700) != 0) return 3;
        st = openat(dir, ".staging", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (st < 0) return 3;
    }
    int sd = src ? open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (src && sd < 0) return 3;
    for (int i = 0; i < n; i++) {
        int len = snprintf(name, sizeof name, src ? "k%d" : "s%d", i);
        const char *bytes = name;
        if (src) {
            int in = openat(sd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (in < 0) return 4;
            len = read(in, buf, sizeof buf);
            close(in);
            if (len < 0) return 4;
            bytes = buf;
        }
        int fd = openat(st, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 || fchmod(fd, 0600) != 0 || write(fd, bytes, len) != len) return 4;
        close(fd);
    }
    if (!direct) {
        for (int i = 0; i < n; i++) {
            snprintf(name, sizeof name, src ? "k%d" : "s%d", i);
            if (renameat(st, name, dir, name) != 0) return 5;
        }
        if (unlinkat(dir, ".staging", AT_REMOVEDIR) != 0) return 6;
    }
    execv(argv[3], argv + 3);
    return 127;
}
