#ifdef __linux__
#include <errno.h>
#include <linux/io_uring.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "CKubeProxyLinux.h"

// The raw io_uring interface (io_uring_setup(2), io_uring_enter(2)); liburing is not a
// dependency of the project, and the relay needs four operations of it.

static int uring_setup(unsigned entries, struct io_uring_params *params) {
    return (int)syscall(__NR_io_uring_setup, entries, params);
}

static int uring_enter(int fd, unsigned submit, unsigned wait, unsigned flags) {
    return (int)syscall(__NR_io_uring_enter, fd, submit, wait, flags, NULL, 0);
}

int ckp_uring_init(struct ckp_uring *ring, unsigned entries) {
    memset(ring, 0, sizeof(*ring));
    ring->fd = -1;
    struct io_uring_params params;
    memset(&params, 0, sizeof(params));
    // SUBMIT_ALL: one bad entry must not stop the rest of the batch. SINGLE_ISSUER and
    // COOP_TASKRUN: only the relay thread submits, and nothing needs an interrupt to complete.
    // Older kernels reject flags they do not know; then plain setup.
    params.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER;
    int fd = uring_setup(entries, &params);
    if (fd < 0 && errno == EINVAL) {
        memset(&params, 0, sizeof(params));
        fd = uring_setup(entries, &params);
    }
    if (fd < 0) return -errno;
    if (!(params.features & IORING_FEAT_NODROP)) {
        close(fd);
        return -ENOSYS;
    }
    ring->fd = fd;
    ring->entries = params.sq_entries;
    ring->sq_ring_size = params.sq_off.array + params.sq_entries * sizeof(unsigned);
    ring->cq_ring_size = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
    int single = (params.features & IORING_FEAT_SINGLE_MMAP) != 0;
    if (single) {
        if (ring->cq_ring_size > ring->sq_ring_size) ring->sq_ring_size = ring->cq_ring_size;
        ring->cq_ring_size = ring->sq_ring_size;
    }
    ring->sq_ring = mmap(NULL, ring->sq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                         IORING_OFF_SQ_RING);
    if (ring->sq_ring == MAP_FAILED) goto fail;
    if (single) {
        ring->cq_ring = ring->sq_ring;
    } else {
        ring->cq_ring = mmap(NULL, ring->cq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                             IORING_OFF_CQ_RING);
        if (ring->cq_ring == MAP_FAILED) {
            ring->cq_ring = NULL;
            goto fail;
        }
    }
    ring->sqes_size = params.sq_entries * sizeof(struct io_uring_sqe);
    ring->sqes = mmap(NULL, ring->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (ring->sqes == MAP_FAILED) {
        ring->sqes = NULL;
        goto fail;
    }
    char *sq = ring->sq_ring, *cq = ring->cq_ring;
    ring->sq_head = (unsigned *)(sq + params.sq_off.head);
    ring->sq_tail = (unsigned *)(sq + params.sq_off.tail);
    ring->sq_mask = (unsigned *)(sq + params.sq_off.ring_mask);
    ring->sq_array = (unsigned *)(sq + params.sq_off.array);
    ring->cq_head = (unsigned *)(cq + params.cq_off.head);
    ring->cq_tail = (unsigned *)(cq + params.cq_off.tail);
    ring->cq_mask = (unsigned *)(cq + params.cq_off.ring_mask);
    ring->cqes = cq + params.cq_off.cqes;
    return 0;
fail:;
    int code = errno;
    ckp_uring_free(ring);
    return -code;
}

void ckp_uring_free(struct ckp_uring *ring) {
    if (ring->sqes) munmap(ring->sqes, ring->sqes_size);
    if (ring->cq_ring && ring->cq_ring != ring->sq_ring && ring->cq_ring != MAP_FAILED)
        munmap(ring->cq_ring, ring->cq_ring_size);
    if (ring->sq_ring && ring->sq_ring != MAP_FAILED) munmap(ring->sq_ring, ring->sq_ring_size);
    if (ring->fd >= 0) close(ring->fd);
    memset(ring, 0, sizeof(*ring));
    ring->fd = -1;
}

// Copies `entry` into the next free submission slot and publishes it; 0, or -1 when full.
static int queue_entry(struct ckp_uring *ring, const struct io_uring_sqe *entry) {
    // Only this thread moves the tail; the kernel moves the head as it consumes entries.
    unsigned tail = *ring->sq_tail;
    unsigned head = __atomic_load_n(ring->sq_head, __ATOMIC_ACQUIRE);
    if (tail - head >= ring->entries) return -1;
    unsigned index = tail & *ring->sq_mask;
    ((struct io_uring_sqe *)ring->sqes)[index] = *entry;
    ring->sq_array[index] = index;
    __atomic_store_n(ring->sq_tail, tail + 1, __ATOMIC_RELEASE);
    ring->queued++;
    return 0;
}

int ckp_uring_queue_send(struct ckp_uring *ring, int fd, const void *buffer, unsigned length, int extra_flags,
                         unsigned long long user_data) {
    struct io_uring_sqe entry;
    memset(&entry, 0, sizeof(entry));
    entry.opcode = IORING_OP_SEND;
    entry.fd = fd;
    entry.addr = (unsigned long long)(unsigned long)buffer;
    entry.len = length;
    entry.msg_flags = MSG_NOSIGNAL | MSG_DONTWAIT | (unsigned)extra_flags;
    entry.user_data = user_data;
    return queue_entry(ring, &entry);
}

int ckp_uring_queue_close(struct ckp_uring *ring, int fd, unsigned long long user_data) {
    struct io_uring_sqe entry;
    memset(&entry, 0, sizeof(entry));
    entry.opcode = IORING_OP_CLOSE;
    entry.fd = fd;
    entry.user_data = user_data;
    return queue_entry(ring, &entry);
}

int ckp_uring_submit_wait(struct ckp_uring *ring) {
    unsigned submit = ring->queued;
    unsigned done = 0;
    int error = 0;
    while (done < submit) {
        // Submit and wait in one call: sends with MSG_DONTWAIT and closes complete while they
        // are submitted, so the wait is already satisfied when the submission ends.
        int count = uring_enter(ring->fd, submit - done, submit - done, IORING_ENTER_GETEVENTS);
        if (count < 0) {
            // A negative result means nothing was taken by this call.
            if (errno == EINTR) continue;
            error = -errno;
            break;
        }
        if (count == 0) {
            // Not expected; the caller drops what is left (ckp_uring_abandon) and does it itself.
            error = -EAGAIN;
            break;
        }
        done += (unsigned)count;
    }
    ring->queued = 0;
    // Every entry taken has completed, or is waited for here: a buffer must never be reused
    // while the kernel may still read it.
    for (;;) {
        unsigned head = *ring->cq_head;
        unsigned tail = __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE);
        if (tail - head >= done) break;
        int count = uring_enter(ring->fd, 0, done - (tail - head), IORING_ENTER_GETEVENTS);
        if (count < 0 && errno != EINTR) return -errno;
    }
    return error ? error : (int)done;
}

void ckp_uring_abandon(struct ckp_uring *ring) {
    __atomic_store_n(ring->sq_tail, __atomic_load_n(ring->sq_head, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
    ring->queued = 0;
}

int ckp_uring_next(struct ckp_uring *ring, unsigned long long *user_data, int *result) {
    unsigned head = *ring->cq_head;
    unsigned tail = __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE);
    if (head == tail) return 0;
    struct io_uring_cqe *cqe = (struct io_uring_cqe *)ring->cqes + (head & *ring->cq_mask);
    *user_data = cqe->user_data;
    *result = cqe->res;
    __atomic_store_n(ring->cq_head, head + 1, __ATOMIC_RELEASE);
    return 1;
}
#endif
