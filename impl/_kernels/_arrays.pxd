# Raw pointers to NumPy arrays for the kernel modules that cimport this.


cdef inline char *floats(a) except? NULL:
    """The first element of a C-contiguous float32 or float64 array (NULL if it has none);
    the caller holds the array for as long as it uses the pointer."""
    cdef const float[::1] f
    cdef const double[::1] d
    if not a.flags.c_contiguous:
        raise ValueError("kernel: expected a C-contiguous array")
    if a.size == 0:
        return NULL
    a = a.reshape(-1)  # a view: the array is contiguous
    if a.dtype.itemsize == 4:
        f = a
        return <char *> &f[0]
    d = a
    return <char *> &d[0]
