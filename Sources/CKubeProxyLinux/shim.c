#ifdef __linux__
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include "CKubeProxyLinux.h"

int ckp_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) {
    return accept4(fd, address, length, flags);
}

int ckp_spawn(int *pid, const char *path, char *const argv[], char *const envp[], int in, int out, int err) {
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
