/* What a start-up holds in memory when it execs the program, for core.sh: runs argv[1..] under
 * ptrace, stops it at the entry of its own execve (the second execve the child makes: the first
 * is the start of argv[1] itself), prints the resident pages of each kind of mapping from
 * /proc/PID/smaps, then kills it. Every page counted was mapped by a page fault (or the kernel's
 * fault-around, which maps up to 16 neighbouring pages of a file at once) and is unmapped again
 * by the exec. Output: one "<kind> <pages>" line per kind:
 *   code       the executable's read-only file pages (code, constants)
 *   relocated  its read-write file pages (data written by the start-up relocation: copied)
 *   bss        anonymous pages right after it (zero-filled: .bss, the start arena)
 *   stack      [stack]
 *   heap       [heap] and other anonymous mappings (mmap)
 * Built by core.sh with musl-gcc -static. */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    pid_t pid = fork();
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        execv(argv[1], argv + 1);
        _exit(127);
    }
    int status, execs = 0;
    if (waitpid(pid, &status, 0) != pid) return 2;
    ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL);
    for (;;) {
        if (ptrace(PTRACE_SYSCALL, pid, 0, 0) != 0 || waitpid(pid, &status, 0) != pid) return 2;
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            fprintf(stderr, "atexec: %s ended before its exec\n", argv[1]);
            return 1;
        }
        if (!WIFSTOPPED(status) || WSTOPSIG(status) != (SIGTRAP | 0x80)) continue;
        struct user_regs_struct regs;
        if (ptrace(PTRACE_GETREGS, pid, 0, &regs) != 0) return 2;
        /* Entry and exit stops alternate; rax is -ENOSYS at an entry. */
        if (regs.orig_rax != SYS_execve || (long)regs.rax != -38) continue;
        if (++execs == 2) break;
    }
    char path[64], line[512], exe[512] = "";
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    ssize_t n = readlink(path, exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    snprintf(path, sizeof path, "/proc/%d/smaps", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 2;
    long code = 0, relocated = 0, bss = 0, stack = 0, heap = 0, *kind = NULL;
    int after_exe = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        int name_at = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &name_at) == 3) {
            char *name = line + name_at;
            name[strcspn(name, "\n")] = 0;
            if (exe[0] && strcmp(name, exe) == 0) {
                kind = perms[1] == 'w' ? &relocated : &code;
                after_exe = 1;
            } else if (strcmp(name, "[stack]") == 0) {
                kind = &stack;
            } else if (name[0] == 0 && after_exe) {
                kind = &bss;
                after_exe = 0;
            } else if (name[0] == 0 || strcmp(name, "[heap]") == 0) {
                kind = &heap;
            } else {
                kind = NULL;
            }
            continue;
        }
        long kb;
        if (kind && sscanf(line, "Rss: %ld kB", &kb) == 1) *kind += kb / 4;
    }
    printf("code %ld\nrelocated %ld\nbss %ld\nstack %ld\nheap %ld\n", code, relocated, bss, stack, heap);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return 0;
}
