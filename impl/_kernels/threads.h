/* A small thread team for the kernels' parallel loops (included by each kernel module, so each
 * module has a team of its own).
 *
 * tp_run(task, ctx, ntasks, k) cuts range(ntasks) into k consecutive ranges; the calling thread
 * runs the first, the team's workers the others, and it returns when all are done. Like an
 * OpenMP parallel loop, but with a short spin: an idle worker polls for the next job for
 * TP_SPIN_NS and then sleeps on a condition variable. libgomp's workers spin for milliseconds
 * after each loop, stealing a core from the BLAS call that usually follows (20-55% of conv2d's
 * time here); a worker that always sleeps costs ~100 us to wake on these virtual machines,
 * more than a whole batch-norm pass. Kernels that run back to back find the worker spinning.
 *
 * One job at a time: a caller that finds the team busy (another Python thread is in a kernel of
 * this module) runs its loop alone. A forked child starts with no workers and makes new ones.
 * No Python API is used: tp_run is called with the GIL released.
 */
#ifndef IMPL_KERNELS_THREADS_H
#define IMPL_KERNELS_THREADS_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define TP_MAX 64 /* ranges, the caller's included */
#define TP_SPIN_NS 100000L /* 100 us */

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
    pthread_cond_t done;       /* the caller sleeps here for pending == 0 */
    int started;               /* workers running; each takes part in every job */
    int fork_handler;
    unsigned long generation;  /* bumped once per job */
    int pending;               /* workers that have not finished the current job */
    tp_task task;
    void *ctx;
    int active;                /* ranges in the current job (the caller's included) */
    Py_ssize_t bounds[TP_MAX + 1];
    unsigned long born[TP_MAX]; /* the generation when each worker was created */
} tp = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
        PTHREAD_COND_INITIALIZER};

static inline long tp_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

/* Whether the job has moved on from generation `seen` (workers) / every worker is done. */
static inline int tp_new_job(unsigned long seen) {
    return __atomic_load_n(&tp.generation, __ATOMIC_ACQUIRE) != seen;
}
static inline int tp_all_done(unsigned long unused) {
    (void)unused;
    return __atomic_load_n(&tp.pending, __ATOMIC_ACQUIRE) == 0;
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

static void *tp_worker(void *arg) {
    int id = (int)(intptr_t)arg; /* runs range id of each job (if the job has that many) */
    /* Not the generation now: the job it was created for may have been published already. */
    unsigned long seen = tp.born[id];
    for (;;) {
        tp_wait(tp_new_job, seen, &tp.wake);
        seen++; /* the caller waits for every worker before the next job: no job is missed */
        if (id < tp.active)
            tp.task(tp.ctx, tp.bounds[id], tp.bounds[id + 1]);
        if (__atomic_sub_fetch(&tp.pending, 1, __ATOMIC_ACQ_REL) == 0) {
            pthread_mutex_lock(&tp.lock);
            pthread_cond_signal(&tp.done);
            pthread_mutex_unlock(&tp.lock);
        }
    }
    return NULL;
}

static void tp_after_fork_in_child(void) {
    pthread_mutex_init(&tp.busy, NULL);
    pthread_mutex_init(&tp.lock, NULL);
    pthread_cond_init(&tp.wake, NULL);
    pthread_cond_init(&tp.done, NULL);
    tp.started = 0;
    tp.pending = 0;
}

/* Start workers until `n` run (called with `busy` held, between jobs); return how many run. */
static int tp_start(int n) {
    pthread_t thread;
    pthread_attr_t attr;
    if (!tp.fork_handler)
        tp.fork_handler = pthread_atfork(NULL, NULL, tp_after_fork_in_child) == 0;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    while (tp.started < n) {
        tp.born[tp.started + 1] = tp.generation;
        if (pthread_create(&thread, &attr, tp_worker, (void *)(intptr_t)(tp.started + 1)) != 0)
            break;
        tp.started++;
    }
    pthread_attr_destroy(&attr);
    return tp.started;
}

static void tp_run(tp_task task, void *ctx, Py_ssize_t ntasks, int k) {
    int i;
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
    tp.active = k;
    for (i = 0; i <= k; i++)
        tp.bounds[i] = ntasks * i / k;
    __atomic_store_n(&tp.pending, tp.started, __ATOMIC_RELEASE);
    pthread_mutex_lock(&tp.lock);
    __atomic_add_fetch(&tp.generation, 1, __ATOMIC_ACQ_REL);
    pthread_cond_broadcast(&tp.wake);
    pthread_mutex_unlock(&tp.lock);
    task(ctx, tp.bounds[0], tp.bounds[1]);
    tp_wait(tp_all_done, 0, &tp.done);
    pthread_mutex_unlock(&tp.busy);
}

#endif
