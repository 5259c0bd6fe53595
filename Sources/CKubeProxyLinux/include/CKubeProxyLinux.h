// Linux system interfaces the userspace relay uses that Swift's Glibc module does not import:
// epoll, eventfd, accept4 and a small io_uring submission ring (see Sources/KubeProxyDataPlane/Relay/).
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

// Starts the program at `path` (no search, no shell) with `in`, `out` and `err` as its
// descriptors 0-2, every other descriptor closed (posix_spawn_file_actions_addclosefrom_np,
// a GNU extension Swift's Glibc module does not import), every signal at its default
// disposition and none blocked (the child must not inherit an ignored SIGPIPE or a blocked
// SIGTERM). Returns 0 and sets *pid, or an errno (an exec failure such as ENOENT included).
int ckp_spawn(int *pid, const char *path, char *const argv[], char *const envp[], int in, int out, int err);

// pthread_setname_np(3), for the same reason.
int ckp_set_thread_name(const char *name);

// The epoll_event fields, which Swift sees through a packed struct and a union.
static inline void ckp_epoll_event_set(struct epoll_event *event, unsigned int events, unsigned long long data) {
    event->events = events;
    event->data.u64 = data;
}
static inline unsigned int ckp_epoll_event_events(const struct epoll_event *event) { return event->events; }
static inline unsigned long long ckp_epoll_event_data(const struct epoll_event *event) { return event->data.u64; }

// An io_uring used only to send a batch of buffers to several sockets with one system call
// (RelaySendBatch). The ring's head and tail words are shared with the kernel and need
// acquire/release ordering, which is why this lives in C and not in Swift.
struct ckp_uring {
    int fd;
    unsigned entries;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    void *sqes;
    void *cqes;
    void *sq_ring;
    unsigned long sq_ring_size;
    void *cq_ring;
    unsigned long cq_ring_size;
    unsigned long sqes_size;
    // Entries written since the last submit.
    unsigned queued;
};

// Sets up a ring of `entries` submission slots; 0, or -errno (ENOSYS, EPERM under a seccomp
// profile that forbids io_uring, ENOMEM) with `ring` left unusable.
int ckp_uring_init(struct ckp_uring *ring, unsigned entries);
// Unmaps and closes the ring.
void ckp_uring_free(struct ckp_uring *ring);
// Queues send(fd, buffer, length, MSG_NOSIGNAL | MSG_DONTWAIT | extra_flags); 0, or -1 when the
// ring is full. MSG_DONTWAIT makes a send that would block complete with -EAGAIN at once instead
// of waiting inside the kernel, so every queued send has completed when ckp_uring_submit_wait
// returns. extra_flags is 0 or MSG_MORE.
int ckp_uring_queue_send(struct ckp_uring *ring, int fd, const void *buffer, unsigned length, int extra_flags,
                         unsigned long long user_data);
// Queues close(fd); 0, or -1 when the ring is full. Entries run in queue order, so a send queued
// before the close of its socket goes out first.
int ckp_uring_queue_close(struct ckp_uring *ring, int fd, unsigned long long user_data);
// Submits what is queued and waits for all of it to complete; the number submitted, or -errno.
int ckp_uring_submit_wait(struct ckp_uring *ring);
// Drops the entries the kernel has not taken (after ckp_uring_submit_wait failed), so they
// are never sent twice.
void ckp_uring_abandon(struct ckp_uring *ring);
// Takes one completion: 1 with its user data and result (bytes sent or -errno), 0 when none.
int ckp_uring_next(struct ckp_uring *ring, unsigned long long *user_data, int *result);
#endif

#endif
