/* Optional C accelerator for `hftctl audit`: the two loops numpy cannot express.
 *
 * - int_fields: integer fields (update ids, event times) read by key out of many messages. Ids
 *   run past the 13 digits the converter's millisecond parser accepts, and a Python loop over
 *   every depth message would cost more than the rest of the audit together.
 * - replay: an order book replayed message by message, keeping the best bid and ask after each.
 *   Each step depends on the previous one, so there is nothing to vectorise.
 * - locate: prices found on the book's sorted price axis. Consecutive levels sit close together,
 *   so a search that gallops from the previous hit beats numpy's searchsorted several times.
 *
 * Both are strict and simple like the converter's _scan.c: int_fields reports a message whose
 * field is missing or not plain digits as not ok and Python reads it (and names it); replay
 * trusts indices Python computed (checked once here). Python twins in hftctl/audit/fields.py
 * and hftctl/audit/book.py give the same results (the tests compare them). Outputs are
 * bytearrays and in-place updates of writable buffers: no numpy C API, so no build-time numpy.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static const char *find(const char *hay, const char *end, const char *needle, Py_ssize_t len) {
    return memmem(hay, (size_t)(end - hay), needle, (size_t)len);
}

/* -?digits, at most 18 of them (below 2^63 with room), ended by anything but a digit. */
static int parse_int(const char *q, const char *end, int64_t *out) {
    int neg = q < end && *q == '-';
    q += neg;
    const char *start = q;
    int64_t v = 0;
    while (q < end && (unsigned)(*q - '0') <= 9 && q - start < 19) {
        v = v * 10 + (*q - '0');
        q++;
    }
    if (q == start || q - start > 18 || (q < end && (unsigned)(*q - '0') <= 9))
        return 0;
    *out = neg ? -v : v;
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * int_fields(data, starts, ends, keys) -> (ok, values)
 *
 * For each message data[starts[k]:ends[k]] and each key (bytes like b'"u":'), the integer right
 * after the key's first occurrence. values is int64, message-major (k * len(keys) + j); ok[k]
 * is 1 when every key was found with a plain integer behind it.
 */
static PyObject *int_fields(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer data, b_starts, b_ends;
    PyObject *keys;
    if (!PyArg_ParseTuple(args, "y*y*y*O!", &data, &b_starts, &b_ends, &PyTuple_Type, &keys))
        return NULL;
    PyObject *result = NULL, *o_ok = NULL, *o_values = NULL;
    Py_ssize_t nk = PyTuple_GET_SIZE(keys);
    const char *key[16];
    Py_ssize_t key_len[16];
    if (nk < 1 || nk > 16) {
        PyErr_SetString(PyExc_ValueError, "int_fields: 1 to 16 keys");
        goto done;
    }
    for (Py_ssize_t j = 0; j < nk; j++) {
        PyObject *k = PyTuple_GET_ITEM(keys, j);
        if (!PyBytes_Check(k) || PyBytes_GET_SIZE(k) == 0) {
            PyErr_SetString(PyExc_ValueError, "int_fields: keys must be non-empty bytes");
            goto done;
        }
        key[j] = PyBytes_AS_STRING(k);
        key_len[j] = PyBytes_GET_SIZE(k);
    }
    if (b_starts.len % 8 || b_ends.len != b_starts.len) {
        PyErr_SetString(PyExc_ValueError, "int_fields: starts/ends must be int64 arrays of equal length");
        goto done;
    }
    Py_ssize_t m = b_starts.len / 8;
    const int64_t *starts = (const int64_t *)b_starts.buf, *ends = (const int64_t *)b_ends.buf;
    for (Py_ssize_t k = 0; k < m; k++) {
        if (starts[k] < 0 || starts[k] > ends[k] || ends[k] > data.len) {
            PyErr_SetString(PyExc_ValueError, "int_fields: message offsets out of range");
            goto done;
        }
    }
    o_ok = PyByteArray_FromStringAndSize(NULL, m);
    o_values = PyByteArray_FromStringAndSize(NULL, 8 * m * nk);
    if (!o_ok || !o_values)
        goto done;
    uint8_t *ok = (uint8_t *)PyByteArray_AS_STRING(o_ok);
    int64_t *values = (int64_t *)PyByteArray_AS_STRING(o_values);
    const char *p = (const char *)data.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < m; k++) {
        const char *s = p + starts[k], *e = p + ends[k];
        ok[k] = 1;
        for (Py_ssize_t j = 0; j < nk; j++) {
            int64_t *v = &values[k * nk + j];
            const char *at = find(s, e, key[j], key_len[j]);
            *v = 0;
            if (!at || !parse_int(at + key_len[j], e, v)) {
                *v = 0;
                ok[k] = 0;
            }
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("(OO)", o_ok, o_values);
done:
    Py_XDECREF(o_ok);
    Py_XDECREF(o_values);
    PyBuffer_Release(&data);
    PyBuffer_Release(&b_starts);
    PyBuffer_Release(&b_ends);
    return result;
}

/* ---------------------------------------------------------------------------------------------
 * replay(bid, ask, best, msg_off, msg_clear, side, idx, qty, out_bid, out_ask)
 *
 * bid/ask: float64 quantity per price index (writable, the book carried between calls); best:
 * int64[2], the best bid and ask index or -1 (writable). Message k applies updates
 * msg_off[k]..msg_off[k+1] (side 0 bid / 1 ask, price index, quantity; 0 removes), after
 * emptying the book if msg_clear[k]; out_bid/out_ask[k] receive the best indices after it.
 * The best bid only moves up on an insert above it and is searched downwards when its level
 * empties, so a message costs its updates plus the levels the best moved over.
 */
static PyObject *replay(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer b_bid, b_ask, b_best, b_off, b_clear, b_side, b_idx, b_qty, b_out_bid, b_out_ask;
    if (!PyArg_ParseTuple(args, "w*w*w*y*y*y*y*y*w*w*", &b_bid, &b_ask, &b_best, &b_off, &b_clear,
                          &b_side, &b_idx, &b_qty, &b_out_bid, &b_out_ask))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n_px = b_bid.len / 8, m = b_clear.len, n_up = b_side.len;
    const int64_t *off = (const int64_t *)b_off.buf, *idx = (const int64_t *)b_idx.buf;
    if (b_ask.len != b_bid.len || b_bid.len % 8 || b_best.len != 16 || b_off.len != 8 * (m + 1) ||
        b_idx.len != 8 * n_up || b_qty.len != 8 * n_up || b_out_bid.len != 8 * m || b_out_ask.len != 8 * m) {
        PyErr_SetString(PyExc_ValueError, "replay: array sizes do not match");
        goto done;
    }
    for (Py_ssize_t k = 0; k < m; k++) {
        if (off[k] < 0 || off[k] > off[k + 1] || off[k + 1] > n_up) {
            PyErr_SetString(PyExc_ValueError, "replay: message offsets out of range");
            goto done;
        }
    }
    for (Py_ssize_t u = 0; u < n_up; u++) {
        if (idx[u] < 0 || idx[u] >= n_px) {
            PyErr_SetString(PyExc_ValueError, "replay: price index out of range");
            goto done;
        }
    }
    double *bid = (double *)b_bid.buf, *ask = (double *)b_ask.buf;
    int64_t *best = (int64_t *)b_best.buf;
    const uint8_t *clear = (const uint8_t *)b_clear.buf, *side = (const uint8_t *)b_side.buf;
    const double *qty = (const double *)b_qty.buf;
    int64_t *out_bid = (int64_t *)b_out_bid.buf, *out_ask = (int64_t *)b_out_ask.buf;
    Py_BEGIN_ALLOW_THREADS
    int64_t bb = best[0], ba = best[1];
    for (Py_ssize_t k = 0; k < m; k++) {
        if (clear[k]) {
            memset(bid, 0, (size_t)n_px * sizeof(double));
            memset(ask, 0, (size_t)n_px * sizeof(double));
            bb = ba = -1;
        }
        for (int64_t u = off[k]; u < off[k + 1]; u++) {
            int64_t i = idx[u];
            if (side[u] == 0) {
                bid[i] = qty[u];
                if (qty[u] > 0 && i > bb)
                    bb = i;
            } else {
                ask[i] = qty[u];
                if (qty[u] > 0 && (ba < 0 || i < ba))
                    ba = i;
            }
        }
        while (bb >= 0 && !(bid[bb] > 0))
            bb--;
        if (ba >= 0) {
            while (ba < n_px && !(ask[ba] > 0))
                ba++;
            if (ba == n_px)
                ba = -1;
        }
        out_bid[k] = bb;
        out_ask[k] = ba;
    }
    best[0] = bb;
    best[1] = ba;
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&b_bid); PyBuffer_Release(&b_ask); PyBuffer_Release(&b_best);
    PyBuffer_Release(&b_off); PyBuffer_Release(&b_clear); PyBuffer_Release(&b_side);
    PyBuffer_Release(&b_idx); PyBuffer_Release(&b_qty); PyBuffer_Release(&b_out_bid);
    PyBuffer_Release(&b_out_ask);
    return result;
}

/* ---------------------------------------------------------------------------------------------
 * locate(axis, px) -> (idx, found)
 *
 * For each px, the position of the first axis value >= px (as np.searchsorted, side="left") and
 * whether it equals px. axis is float64 and sorted; the search starts at the previous answer
 * and gallops outwards, then bisects.
 */
static PyObject *locate(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer b_axis, b_px;
    if (!PyArg_ParseTuple(args, "y*y*", &b_axis, &b_px))
        return NULL;
    PyObject *result = NULL, *o_idx = NULL, *o_found = NULL;
    if (b_axis.len % 8 || b_px.len % 8) {
        PyErr_SetString(PyExc_ValueError, "locate: float64 arrays expected");
        goto done;
    }
    Py_ssize_t n = b_axis.len / 8, m = b_px.len / 8;
    const double *axis = (const double *)b_axis.buf, *px = (const double *)b_px.buf;
    o_idx = PyByteArray_FromStringAndSize(NULL, 8 * m);
    o_found = PyByteArray_FromStringAndSize(NULL, m);
    if (!o_idx || !o_found)
        goto done;
    int64_t *idx = (int64_t *)PyByteArray_AS_STRING(o_idx);
    uint8_t *found = (uint8_t *)PyByteArray_AS_STRING(o_found);
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t at = 0;                                /* invariant sought: axis[lo-1] < x <= axis[hi] */
    for (Py_ssize_t k = 0; k < m; k++) {
        double x = px[k];
        Py_ssize_t lo, hi, step = 1;
        if (at < n && axis[at] < x) {                 /* answer is right of at */
            lo = at + 1;
            hi = lo;
            while (hi < n && axis[hi] < x) {
                lo = hi + 1;
                hi += step;
                step *= 2;
            }
            if (hi > n)
                hi = n;
        } else {                                      /* answer is at or left of at */
            hi = at;
            lo = at;
            while (lo > 0 && !(axis[lo - 1] < x)) {
                hi = lo - 1;
                lo = lo > step ? lo - step : 0;
                step *= 2;
            }
        }
        while (lo < hi) {                             /* first index in [lo, hi] with axis >= x */
            Py_ssize_t mid = lo + (hi - lo) / 2;
            if (axis[mid] < x)
                lo = mid + 1;
            else
                hi = mid;
        }
        idx[k] = lo;
        found[k] = lo < n && axis[lo] == x;
        at = lo < n ? lo : n - 1 < 0 ? 0 : n - 1;
    }
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("(OO)", o_idx, o_found);
done:
    Py_XDECREF(o_idx);
    Py_XDECREF(o_found);
    PyBuffer_Release(&b_axis);
    PyBuffer_Release(&b_px);
    return result;
}

static PyMethodDef methods[] = {
    {"int_fields", int_fields, METH_VARARGS, "Integers after keys in many messages."},
    {"replay", replay, METH_VARARGS, "Replay book updates, best bid/ask after each message."},
    {"locate", locate, METH_VARARGS, "Positions of prices on a sorted axis (searchsorted, galloping)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_fast", .m_size = -1, .m_methods = methods};

PyMODINIT_FUNC PyInit__fast(void) { return PyModule_Create(&module); }
