#ifdef __linux__
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/socket.h>
#include "CKubeProxyLinux.h"

int ckp_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) {
    return accept4(fd, address, length, flags);
}

int ckp_set_thread_name(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}
#endif
