#ifdef __linux__
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <spawn.h>
#include <sys/socket.h>
#include "CKubeProxyLinux.h"

int ckp_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) {
    return accept4(fd, address, length, flags);
}

static int ckp_spawn_moved(int *pid, const char *path, char *const argv[], char *const envp[], int in, int out, int err);

int ckp_spawn(int *pid, const char *path, char *const argv[], char *const envp[], int in, int out, int err) {
    // A process started with 0-2 closed gets them back from open(): a source below 3 would be
    // overwritten by an earlier dup2 of the child, so move it up first.
    int sources[3] = {in, out, err};
    int moved[3] = {-1, -1, -1};
    for (int i = 0; i < 3; i++) {
        if (sources[i] >= 0 && sources[i] < 3) {
            moved[i] = fcntl(sources[i], F_DUPFD_CLOEXEC, 3);
            if (moved[i] < 0) {
                int saved = errno;
                for (int j = 0; j < i; j++) if (moved[j] >= 0) close(moved[j]);
                return saved;
            }
            sources[i] = moved[i];
        }
    }
    int result = ckp_spawn_moved(pid, path, argv, envp, sources[0], sources[1], sources[2]);
    for (int i = 0; i < 3; i++) if (moved[i] >= 0) close(moved[i]);
    return result;
}

static int ckp_spawn_moved(int *pid, const char *path, char *const argv[], char *const envp[], int in, int out, int err) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int result = posix_spawn_file_actions_init(&actions);
    if (result != 0) return result;
    result = posix_spawnattr_init(&attributes);
    if (result != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return result;
    }
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    if ((result = posix_spawn_file_actions_adddup2(&actions, in, 0)) == 0 &&
        (result = posix_spawn_file_actions_adddup2(&actions, out, 1)) == 0 &&
        (result = posix_spawn_file_actions_adddup2(&actions, err, 2)) == 0 &&
        (result = posix_spawn_file_actions_addclosefrom_np(&actions, 3)) == 0 &&
        (result = posix_spawnattr_setsigmask(&attributes, &none)) == 0 &&
        (result = posix_spawnattr_setsigdefault(&attributes, &all)) == 0 &&
        (result = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) == 0) {
        pid_t child = 0;
        result = posix_spawn(&child, path, &actions, &attributes, argv, envp);
        if (result == 0) *pid = (int)child;
    }
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return result;
}

int ckp_set_thread_name(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}
#endif
