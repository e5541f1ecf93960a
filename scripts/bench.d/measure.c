/* One timed run for scripts/bench.d/rounds.py: forks (from this small static process, so the
 * child's peak RSS is the program's, not the harness's), execs argv[1..], waits, and prints
 * "<wall ns> <peak RSS KiB> <minor faults> <exit status>". Built by core.sh with musl-gcc -static. */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    struct timespec a, b;
    struct rusage ru;
    int status;
    if (argc < 2) return 2;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t pid = fork();
    if (pid == 0) {
        execv(argv[1], argv + 1);
        _exit(127);
    }
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid) return 2;
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%lld %ld %ld %d\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec),
           ru.ru_maxrss, ru.ru_minflt, status);
    return 0;
}
