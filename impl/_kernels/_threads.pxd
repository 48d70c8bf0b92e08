# The kernels' thread team (threads.h): each kernel module that cimports this gets its own.
cdef extern from "threads.h" nogil:
    ctypedef void (*tp_task)(void *ctx, Py_ssize_t begin, Py_ssize_t end) noexcept nogil
    void tp_run(tp_task task, void *ctx, Py_ssize_t ntasks, int k)
