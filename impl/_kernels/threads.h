/* A small thread team for the kernels' parallel loops (included by each kernel module, so each
 * module has a team of its own).
 *
 * tp_run(task, ctx, ntasks, k) runs task(ctx, begin, end) over consecutive chunks covering
 * range(ntasks) on the calling thread and up to k - 1 workers, and returns when all are done.
 * Like an OpenMP parallel loop, with two differences that matter on a shared 2-vCPU machine:
 * - an idle worker polls for the next job for TP_SPIN_NS and then sleeps on a condition
 *   variable. libgomp's workers spin for milliseconds after each loop, stealing a core from the
 *   BLAS call that usually follows (20-55% of conv2d's time here); a worker that always sleeps
 *   costs ~100 us to wake, more than a whole batch-norm pass;
 * - the work is taken in chunks (about 4 per thread) from a shared counter, and the caller takes
 *   them too: a worker that wakes late (its vCPU descheduled) finds the chunks gone, and the
 *   caller never waits for a worker that has not started, only for chunks already being run.
 *
 * A worker joins a job by taking a seat (`active`) while the job is open; the caller closes the
 * job when no chunk is left and waits for the seated workers. One job at a time: a caller that
 * finds the team busy (another Python thread is in a kernel of this module) runs its loop alone.
 * A forked child starts with no workers and makes new ones. No Python API is used: tp_run is
 * called with the GIL released.
 */
#ifndef IMPL_KERNELS_THREADS_H
#define IMPL_KERNELS_THREADS_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define TP_MAX 64             /* threads, the caller's included */
#define TP_CHUNKS_PER_THREAD 4
#define TP_SPIN_NS 100000L    /* 100 us */

#if defined(__x86_64__) || defined(__i386__)
#define TP_PAUSE() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define TP_PAUSE() __asm__ __volatile__("yield")
#else
#define TP_PAUSE() ((void)0)
#endif

typedef void (*tp_task)(void *ctx, Py_ssize_t begin, Py_ssize_t end);

static struct {
    pthread_mutex_t busy;      /* held by the caller whose job the team runs */
    pthread_mutex_t lock;      /* with the two conditions below, for sleeping */
    pthread_cond_t wake;       /* workers sleep here for the next generation */
    pthread_cond_t done;       /* the caller sleeps here for active == 0 */
    int started;               /* worker threads running */
    int fork_handler;
    unsigned long generation;  /* bumped once per job */
    unsigned long open;        /* the generation of the job accepting workers, 0 when closed */
    int active;                /* workers seated in the current job */
    int seats;                 /* how many workers the job takes (k - 1) */
    Py_ssize_t next;           /* the next chunk to run */
    Py_ssize_t chunks, ntasks;
    tp_task task;
    void *ctx;
} tp = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
        PTHREAD_COND_INITIALIZER};

static inline long tp_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

/* Whether a job newer than generation `seen` was published (workers) / no worker is seated. */
static inline int tp_new_job(unsigned long seen) {
    return __atomic_load_n(&tp.generation, __ATOMIC_SEQ_CST) != seen;
}
static inline int tp_none_seated(unsigned long unused) {
    (void)unused;
    return __atomic_load_n(&tp.active, __ATOMIC_SEQ_CST) == 0;
}

/* Spin on `ready` for up to TP_SPIN_NS, then sleep on `cond` until it holds. */
static void tp_wait(int (*ready)(unsigned long), unsigned long arg, pthread_cond_t *cond) {
    long start = tp_now_ns();
    unsigned n = 0;
    while (!ready(arg)) {
        if ((++n & 255) == 0 && tp_now_ns() - start > TP_SPIN_NS) {
            pthread_mutex_lock(&tp.lock);
            while (!ready(arg))
                pthread_cond_wait(cond, &tp.lock);
            pthread_mutex_unlock(&tp.lock);
            return;
        }
        TP_PAUSE();
    }
}

/* Run chunks of the current job until none is left. */
static void tp_chunks(void) {
    Py_ssize_t i;
    while ((i = __atomic_fetch_add(&tp.next, 1, __ATOMIC_SEQ_CST)) < tp.chunks)
        tp.task(tp.ctx, tp.ntasks * i / tp.chunks, tp.ntasks * (i + 1) / tp.chunks);
}

static void tp_leave(void) {
    if (__atomic_sub_fetch(&tp.active, 1, __ATOMIC_SEQ_CST) == 0) {
        pthread_mutex_lock(&tp.lock);
        pthread_cond_signal(&tp.done);
        pthread_mutex_unlock(&tp.lock);
    }
}

static void *tp_worker(void *arg) {
    unsigned long seen = (unsigned long)(uintptr_t)arg; /* the generation at its creation */
    unsigned long job;
    for (;;) {
        tp_wait(tp_new_job, seen, &tp.wake);
        job = seen = __atomic_load_n(&tp.generation, __ATOMIC_SEQ_CST);
        /* Take a seat, then check the job is still this one and open: the caller closes it
         * before it waits for the seated workers, so a worker either is seen seated or sees
         * the job closed (both sides sequentially consistent). */
        if (__atomic_add_fetch(&tp.active, 1, __ATOMIC_SEQ_CST) <= tp.seats &&
            __atomic_load_n(&tp.open, __ATOMIC_SEQ_CST) == job)
            tp_chunks();
        tp_leave();
    }
    return NULL;
}

static void tp_after_fork_in_child(void) {
    pthread_mutex_init(&tp.busy, NULL);
    pthread_mutex_init(&tp.lock, NULL);
    pthread_cond_init(&tp.wake, NULL);
    pthread_cond_init(&tp.done, NULL);
    tp.started = 0;
    tp.active = 0;
    tp.open = 0;
}

/* Start workers until `n` run (called with `busy` held, between jobs); return how many run. */
static int tp_start(int n) {
    pthread_t thread;
    pthread_attr_t attr;
    if (!tp.fork_handler)
        tp.fork_handler = pthread_atfork(NULL, NULL, tp_after_fork_in_child) == 0;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    while (tp.started < n &&
           pthread_create(&thread, &attr, tp_worker, (void *)(uintptr_t)tp.generation) == 0)
        tp.started++;
    pthread_attr_destroy(&attr);
    return tp.started;
}

static void tp_run(tp_task task, void *ctx, Py_ssize_t ntasks, int k) {
    if (k > ntasks)
        k = (int)ntasks;
    if (k > TP_MAX)
        k = TP_MAX;
    if (k <= 1 || pthread_mutex_trylock(&tp.busy) != 0) {
        task(ctx, 0, ntasks);
        return;
    }
    if (tp_start(k - 1) + 1 < k)
        k = tp.started + 1;
    tp.task = task;
    tp.ctx = ctx;
    tp.ntasks = ntasks;
    tp.chunks = ntasks < (Py_ssize_t)k * TP_CHUNKS_PER_THREAD ? ntasks
                                                                : (Py_ssize_t)k * TP_CHUNKS_PER_THREAD;
    tp.seats = k - 1;
    __atomic_store_n(&tp.next, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&tp.lock);
    /* Generations start at 1 (0 means closed); the job's fields are set before it opens. */
    __atomic_store_n(&tp.open, tp.generation + 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&tp.generation, 1, __ATOMIC_SEQ_CST);
    pthread_cond_broadcast(&tp.wake);
    pthread_mutex_unlock(&tp.lock);
    tp_chunks();
    __atomic_store_n(&tp.open, 0, __ATOMIC_SEQ_CST);
    tp_wait(tp_none_seated, 0, &tp.done);
    pthread_mutex_unlock(&tp.busy);
}

#endif
