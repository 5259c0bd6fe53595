// Linux system interfaces the userspace relay uses that Swift's Glibc module does not import:
// epoll, eventfd and accept4 (see Sources/KubeProxyDataPlane/Relay/).
#ifndef C_KUBE_PROXY_LINUX_H
#define C_KUBE_PROXY_LINUX_H

#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <pthread.h>

// accept4(2); declared by <sys/socket.h> only with _GNU_SOURCE, which a header imported into
// Swift cannot rely on.
int ckp_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);

// pthread_setname_np(3), for the same reason.
int ckp_set_thread_name(const char *name);

// The epoll_event fields, which Swift sees through a packed struct and a union.
static inline void ckp_epoll_event_set(struct epoll_event *event, unsigned int events, unsigned long long data) {
    event->events = events;
    event->data.u64 = data;
}
static inline unsigned int ckp_epoll_event_events(const struct epoll_event *event) { return event->events; }
static inline unsigned long long ckp_epoll_event_data(const struct epoll_event *event) { return event->data.u64; }
#endif

#endif
