/* Timed waits under Debian's libfaketime 0.9.10, which fakes clock_gettime (monotonic too) but does
 * not intercept sem_clockwait / pthread_cond_clockwait: glibc then gets a deadline on the faked clock
 * and waits for the whole shift (Python's Event.wait(1) under +400d never returns). This shim moves
 * the deadline back onto the real clock, read with the raw syscall that libfaketime leaves alone. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static struct timespec real_deadline(clockid_t clock, const struct timespec *faked_deadline) {
    struct timespec faked_now, real_now, out;
    clock_gettime(clock, &faked_now); /* through libfaketime */
    syscall(SYS_clock_gettime, clock, &real_now); /* the kernel's own */
    long long ns = (long long)(faked_deadline->tv_sec - faked_now.tv_sec) * 1000000000LL
                   + (faked_deadline->tv_nsec - faked_now.tv_nsec);
    if (ns < 0) ns = 0;
    ns += real_now.tv_nsec;
    out.tv_sec = real_now.tv_sec + ns / 1000000000LL;
    out.tv_nsec = ns % 1000000000LL;
    return out;
}

int sem_clockwait(sem_t *sem, clockid_t clock, const struct timespec *abstime) {
    static int (*real)(sem_t *, clockid_t, const struct timespec *);
    if (!real) real = dlsym(RTLD_NEXT, "sem_clockwait");
    struct timespec deadline = real_deadline(clock, abstime);
    return real(sem, clock, &deadline);
}

int pthread_cond_clockwait(pthread_cond_t *cond, pthread_mutex_t *mutex, clockid_t clock,
                           const struct timespec *abstime) {
    static int (*real)(pthread_cond_t *, pthread_mutex_t *, clockid_t, const struct timespec *);
    if (!real) real = dlsym(RTLD_NEXT, "pthread_cond_clockwait");
    struct timespec deadline = real_deadline(clock, abstime);
    return real(cond, mutex, clock, &deadline);
}

int pthread_mutex_clocklock(pthread_mutex_t *mutex, clockid_t clock, const struct timespec *abstime) {
    static int (*real)(pthread_mutex_t *, clockid_t, const struct timespec *);
    if (!real) real = dlsym(RTLD_NEXT, "pthread_mutex_clocklock");
    struct timespec deadline = real_deadline(clock, abstime);
    return real(mutex, clock, &deadline);
}
