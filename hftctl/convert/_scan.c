/* Optional C accelerator for the converter: the two loops that touch every byte of a recording.
 *
 * Why C: line splitting and pulling [[price, qty], ...] levels out of depth messages are byte
 * scans; in numpy/orjson they cost a temporary array or a Python object per value, which is most
 * of a conversion's time. Both functions here are *strict*: they accept only the plain layout
 * exchanges write and report anything else as "not fast", and the pure-Python path (which is
 * lenient, and names bad lines) then handles that input. So this module never decides what a
 * malformed message means; it only makes well-formed ones cheap. Numbers it cannot convert
 * exactly (more than 19 digits, an exponent) are "not fast" too, never approximated.
 *
 * The scans run without the GIL so the reader thread keeps decompressing meanwhile. Outputs are
 * bytearrays (no numpy C API, so no build-time numpy); Python views them with np.frombuffer.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define TS_DIGITS 19
#define HEAD_WIDTH 64

/* 10^0 .. 10^22 are exact doubles: m / 10^k with m < 2^53 is then one correctly rounded
 * division, equal to float() of the decimal string (Clinger's fast path). */
static const double POW10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static PyObject *new_bytearray(Py_ssize_t size) {
    return PyByteArray_FromStringAndSize(NULL, size);
}

/* ---------------------------------------------------------------------------------------------
 * split_lines(data) -> (line_start, end, local_ts, fast, head)
 *
 * Per line (a last line without newline counts; a trailing CR is dropped): offsets as int64,
 * the 19-digit nanosecond timestamp before the first space, fast=1 when the line is exactly
 * '<19 digits> <message>' with a non-empty message and a timestamp below 2^63, and the first
 * HEAD_WIDTH bytes of the message (zero-padded) for classification. Non-fast lines get ts 0 and
 * a head taken from column 20 anyway; Python re-reads them.
 */
static PyObject *split_lines(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer buf;
    if (!PyArg_ParseTuple(args, "y*", &buf))
        return NULL;
    const char *p = (const char *)buf.buf;
    const Py_ssize_t n = buf.len;
    Py_ssize_t lines = 0;
    Py_BEGIN_ALLOW_THREADS
    for (const char *q = p; q < p + n; lines++) {
        const char *nl = memchr(q, '\n', (size_t)(p + n - q));
        q = nl ? nl + 1 : p + n;
    }
    Py_END_ALLOW_THREADS

    PyObject *o_start = new_bytearray(8 * lines), *o_end = new_bytearray(8 * lines);
    PyObject *o_ts = new_bytearray(8 * lines), *o_fast = new_bytearray(lines);
    PyObject *o_head = new_bytearray(HEAD_WIDTH * lines);
    if (!o_start || !o_end || !o_ts || !o_fast || !o_head) {
        Py_XDECREF(o_start); Py_XDECREF(o_end); Py_XDECREF(o_ts); Py_XDECREF(o_fast);
        Py_XDECREF(o_head);
        PyBuffer_Release(&buf);
        return NULL;
    }
    int64_t *starts = (int64_t *)PyByteArray_AS_STRING(o_start);
    int64_t *ends = (int64_t *)PyByteArray_AS_STRING(o_end);
    int64_t *tss = (int64_t *)PyByteArray_AS_STRING(o_ts);
    uint8_t *fast = (uint8_t *)PyByteArray_AS_STRING(o_fast);
    uint8_t *head = (uint8_t *)PyByteArray_AS_STRING(o_head);

    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t s = 0;
    for (Py_ssize_t i = 0; i < lines; i++) {
        const char *nl = memchr(p + s, '\n', (size_t)(n - s));
        Py_ssize_t e = nl ? nl - p : n;
        Py_ssize_t next = nl ? e + 1 : n;
        if (e > s && p[e - 1] == '\r')
            e--;
        starts[i] = s;
        ends[i] = e;
        uint64_t ts = 0;
        int ok = e - s > TS_DIGITS + 1 && p[s + TS_DIGITS] == ' ';
        for (int k = 0; ok && k < TS_DIGITS; k++) {
            unsigned d = (unsigned char)p[s + k] - '0';
            if (d > 9)
                ok = 0;
            else
                ts = ts * 10 + d;
        }
        if (ok && ts > (uint64_t)INT64_MAX)
            ok = 0;
        tss[i] = ok ? (int64_t)ts : 0;
        fast[i] = (uint8_t)ok;
        uint8_t *h = head + (size_t)i * HEAD_WIDTH;
        Py_ssize_t ms = s + TS_DIGITS + 1, w = e - ms;
        w = w < 0 ? 0 : (w > HEAD_WIDTH ? HEAD_WIDTH : w);
        if (w)
            memcpy(h, p + ms, (size_t)w);
        memset(h + w, 0, (size_t)(HEAD_WIDTH - w));
        s = next;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    return Py_BuildValue("(NNNNN)", o_start, o_end, o_ts, o_fast, o_head);
}

/* ---------------------------------------------------------------------------------------------
 * depth_levels(data, starts, ends, ts_key, bid_key, ask_key, tail)
 *   -> (ok, ts, n_bid, n_ask, values)
 *
 * For each message data[starts[k]:ends[k]]: it must end with ``tail``; the integer after the
 * first ``ts_key`` (b'"T":', or empty for none); the [px, qty] pairs after the first ``bid_key``
 * (b'"b":[') and after the first ``ask_key`` behind the bids. Values are appended px, qty, ...
 * bids then asks, message by message, for ok messages only.
 */

typedef struct {
    double *v;
    Py_ssize_t len, cap;
    int oom;
} Values;

static int values_push2(Values *o, double a, double b) {
    if (o->len + 2 > o->cap) {
        Py_ssize_t cap = o->cap ? 2 * o->cap : 1 << 16;
        double *v = PyMem_RawRealloc(o->v, (size_t)cap * sizeof(double));
        if (!v) {
            o->oom = 1;
            return -1;
        }
        o->v = v;
        o->cap = cap;
    }
    o->v[o->len++] = a;
    o->v[o->len++] = b;
    return 0;
}

static const char *find(const char *hay, const char *end, const char *needle, Py_ssize_t len) {
    if (end - hay < len)
        return NULL;
    return memmem(hay, (size_t)(end - hay), needle, (size_t)len);
}

/* A JSON number, optionally in quotes: -?(0|[1-9]digits)(.digits)?; exact or rejected (NULL). */
static const char *parse_number(const char *q, const char *end, double *out) {
    int quoted = q < end && *q == '"';
    q += quoted;
    int neg = q < end && *q == '-';
    q += neg;
    if (end - q > 1 && q[0] == '0' && (unsigned)(q[1] - '0') <= 9)
        return NULL;                       /* a leading zero is not JSON: Python decides */
    uint64_t m = 0;
    int digits = 0, frac = 0;
    while (q < end && (unsigned)(*q - '0') <= 9) {
        m = m * 10 + (unsigned)(*q++ - '0');
        digits++;
    }
    if (!digits)
        return NULL;
    if (q < end && *q == '.') {
        q++;
        while (q < end && (unsigned)(*q - '0') <= 9) {
            m = m * 10 + (unsigned)(*q++ - '0');
            digits++;
            frac++;
        }
        if (!frac)
            return NULL;
    }
    if (digits > 19 || m > (UINT64_C(1) << 53) || frac > 22)
        return NULL;                       /* not exact by division: let Python do it */
    if (quoted) {
        if (q >= end || *q != '"')
            return NULL;
        q++;
    }
    double v = frac ? (double)m / POW10[frac] : (double)m;
    *out = neg ? -v : v;
    return q;
}

/* '[px,qty],[px,qty]...]' starting right after the opening '['; returns the closing ']' or NULL. */
static const char *parse_pairs(const char *q, const char *end, Values *out, int64_t *count) {
    int64_t c = 0;
    if (q < end && *q == ']') {
        *count = 0;
        return q;
    }
    for (;;) {
        double px, qty;
        if (q >= end || *q != '[')
            return NULL;
        if (!(q = parse_number(q + 1, end, &px)) || q >= end || *q != ',')
            return NULL;
        if (!(q = parse_number(q + 1, end, &qty)) || q >= end || *q != ']')
            return NULL;
        if (values_push2(out, px, qty) < 0)
            return NULL;
        c++;
        q++;
        if (q < end && *q == ',') {
            q++;
            continue;
        }
        if (q < end && *q == ']') {
            *count = c;
            return q;
        }
        return NULL;
    }
}

/* Largest millisecond timestamp whose nanoseconds fit int64 (Python's MAX_MS). */
#define MAX_MS INT64_C(9223372036854)

/* The millisecond timestamp after a key: like Python's ``int_field`` (``int(data[k:stop])`` with
 * stop the first ',', else the first '}', behind it, within MAX_MS) but only for plain -?digits;
 * anything else is left to Python. */
static const char *parse_int(const char *q, const char *end, int64_t *out) {
    const char *stop = memchr(q, ',', (size_t)(end - q));
    if (!stop)
        stop = memchr(q, '}', (size_t)(end - q));
    if (!stop)
        return NULL;
    int neg = q < stop && *q == '-';
    q += neg;
    if (q == stop || stop - q > 13)
        return NULL;
    int64_t v = 0;
    for (; q < stop; q++) {
        if ((unsigned)(*q - '0') > 9)
            return NULL;
        v = v * 10 + (*q - '0');
    }
    if (v > MAX_MS)
        return NULL;
    *out = neg ? -v : v;
    return q;
}

/* How many messages the int64 offset arrays describe: -1 with ValueError set unless they have equal
 * lengths and every data[starts[k]:ends[k]] lies inside data. */
static Py_ssize_t message_count(const Py_buffer *b_starts, const Py_buffer *b_ends, Py_ssize_t size,
                                const char *fn) {
    if (b_starts->len % 8 || b_ends->len != b_starts->len) {
        PyErr_Format(PyExc_ValueError, "%s: starts/ends must be int64 arrays of equal length", fn);
        return -1;
    }
    const int64_t *starts = (const int64_t *)b_starts->buf, *ends = (const int64_t *)b_ends->buf;
    Py_ssize_t m = b_starts->len / 8;
    for (Py_ssize_t k = 0; k < m; k++) {
        if (starts[k] < 0 || starts[k] > ends[k] || ends[k] > size) {
            PyErr_Format(PyExc_ValueError, "%s: message offsets out of range", fn);
            return -1;
        }
    }
    return m;
}

static PyObject *depth_levels(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer data, b_starts, b_ends;
    const char *ts_key, *bid_key, *ask_key, *tail;
    Py_ssize_t ts_len, bid_len, ask_len, tail_len;
    if (!PyArg_ParseTuple(args, "y*y*y*y#y#y#y#", &data, &b_starts, &b_ends, &ts_key, &ts_len,
                          &bid_key, &bid_len, &ask_key, &ask_len, &tail, &tail_len))
        return NULL;
    PyObject *result = NULL;
    PyObject *o_ok = NULL, *o_ts = NULL, *o_nb = NULL, *o_na = NULL, *o_values = NULL;
    Values vals = {NULL, 0, 0, 0};
    if (!bid_len || !ask_len) {
        PyErr_SetString(PyExc_ValueError, "depth_levels: empty key");
        goto done;
    }
    Py_ssize_t m = message_count(&b_starts, &b_ends, data.len, "depth_levels");
    if (m < 0)
        goto done;
    const int64_t *starts = (const int64_t *)b_starts.buf, *ends = (const int64_t *)b_ends.buf;
    o_ok = new_bytearray(m);
    o_ts = new_bytearray(8 * m);
    o_nb = new_bytearray(8 * m);
    o_na = new_bytearray(8 * m);
    if (!o_ok || !o_ts || !o_nb || !o_na)
        goto done;
    uint8_t *ok = (uint8_t *)PyByteArray_AS_STRING(o_ok);
    int64_t *ts = (int64_t *)PyByteArray_AS_STRING(o_ts);
    int64_t *nb = (int64_t *)PyByteArray_AS_STRING(o_nb);
    int64_t *na = (int64_t *)PyByteArray_AS_STRING(o_na);
    const char *p = (const char *)data.buf;

    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < m && !vals.oom; k++) {
        const char *s = p + starts[k], *e = p + ends[k];
        Py_ssize_t mark = vals.len;
        ok[k] = 0;
        ts[k] = nb[k] = na[k] = 0;
        if (e - s < tail_len || memcmp(e - tail_len, tail, (size_t)tail_len) != 0)
            continue;
        if (ts_len) {
            const char *t = find(s, e, ts_key, ts_len);
            if (!t || !parse_int(t + ts_len, e, &ts[k]))
                continue;
        }
        const char *b = find(s, e, bid_key, bid_len);
        const char *close = b ? parse_pairs(b + bid_len, e, &vals, &nb[k]) : NULL;
        const char *a = close ? find(close, e, ask_key, ask_len) : NULL;
        if (a && parse_pairs(a + ask_len, e, &vals, &na[k])) {
            ok[k] = 1;
            continue;
        }
        vals.len = mark;                   /* drop this message's values */
        nb[k] = na[k] = 0;
    }
    Py_END_ALLOW_THREADS
    if (vals.oom) {
        PyErr_NoMemory();
        goto done;
    }
    o_values = PyByteArray_FromStringAndSize((const char *)vals.v, vals.len * (Py_ssize_t)sizeof(double));
    if (!o_values)
        goto done;
    result = Py_BuildValue("(OOOOO)", o_ok, o_ts, o_nb, o_na, o_values);
done:
    PyMem_RawFree(vals.v);
    Py_XDECREF(o_ok); Py_XDECREF(o_ts); Py_XDECREF(o_nb); Py_XDECREF(o_na); Py_XDECREF(o_values);
    PyBuffer_Release(&data);
    PyBuffer_Release(&b_starts);
    PyBuffer_Release(&b_ends);
    return result;
}

/* ---------------------------------------------------------------------------------------------
 * parse_decimals(joined, count) -> float64 bytearray, or None
 *
 * ``count`` numbers separated by single commas (b"1.5,2,3.25"), as parse_numbers builds them for
 * trade prices and quantities. None if any is not a plain exact decimal; Python then parses.
 */
static PyObject *parse_decimals(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer buf;
    Py_ssize_t count;
    if (!PyArg_ParseTuple(args, "y*n", &buf, &count))
        return NULL;
    if (count < 0) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "parse_decimals: negative count");
        return NULL;
    }
    PyObject *out = new_bytearray(8 * count);
    if (!out) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    double *v = (double *)PyByteArray_AS_STRING(out);
    const char *q = (const char *)buf.buf, *end = q + buf.len;
    int good = count > 0 || buf.len == 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; good && k < count; k++) {
        q = parse_number(q, end, &v[k]);
        if (!q)
            good = 0;
        else if (k + 1 < count) {
            if (q < end && *q == ',')
                q++;
            else
                good = 0;
        }
    }
    if (good && q != end)
        good = 0;
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    if (!good) {
        Py_DECREF(out);
        Py_RETURN_NONE;
    }
    return out;
}

/* ---------------------------------------------------------------------------------------------
 * trade_fields(data, starts, ends, ts_key, px_key, qty_key, maker_key, kind_key, kind_value)
 *   -> (status, ts, px, qty, maker)
 *
 * One trade per message, fields found by key as the Python path finds them (first occurrence):
 * the integer after ts_key (b'"T":'), the quoted decimals after px_key/qty_key (b'"p":"'), the
 * true/false after maker_key (b'"m":'). With kind_key (b'"X":"'), a trade whose quoted kind is not
 * kind_value (b"MARKET") is left out (status 2, as hftbacktest drops insurance-fund/ADL trades).
 * status 1: a row; 0: not the plain layout, Python decides.
 */
static const char *quoted_value(const char *s, const char *e, const char *key, Py_ssize_t len,
                                const char **stop) {
    const char *k = find(s, e, key, len);
    if (!k)
        return NULL;
    k += len;
    *stop = memchr(k, '"', (size_t)(e - k));
    return *stop ? k : NULL;
}

static PyObject *trade_fields(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer data, b_starts, b_ends;
    const char *ts_key, *px_key, *qty_key, *maker_key, *kind_key, *kind_value;
    Py_ssize_t ts_len, px_len, qty_len, maker_len, kind_len, value_len;
    if (!PyArg_ParseTuple(args, "y*y*y*y#y#y#y#y#y#", &data, &b_starts, &b_ends, &ts_key, &ts_len,
                          &px_key, &px_len, &qty_key, &qty_len, &maker_key, &maker_len, &kind_key,
                          &kind_len, &kind_value, &value_len))
        return NULL;
    PyObject *result = NULL, *o_status = NULL, *o_ts = NULL, *o_px = NULL, *o_qty = NULL,
             *o_maker = NULL;
    if (!ts_len || !px_len || !qty_len || !maker_len) {
        PyErr_SetString(PyExc_ValueError, "trade_fields: empty key");
        goto done;
    }
    Py_ssize_t m = message_count(&b_starts, &b_ends, data.len, "trade_fields");
    if (m < 0)
        goto done;
    const int64_t *starts = (const int64_t *)b_starts.buf, *ends = (const int64_t *)b_ends.buf;
    o_status = new_bytearray(m);
    o_ts = new_bytearray(8 * m);
    o_px = new_bytearray(8 * m);
    o_qty = new_bytearray(8 * m);
    o_maker = new_bytearray(m);
    if (!o_status || !o_ts || !o_px || !o_qty || !o_maker)
        goto done;
    uint8_t *status = (uint8_t *)PyByteArray_AS_STRING(o_status);
    int64_t *ts = (int64_t *)PyByteArray_AS_STRING(o_ts);
    double *px = (double *)PyByteArray_AS_STRING(o_px);
    double *qty = (double *)PyByteArray_AS_STRING(o_qty);
    uint8_t *maker = (uint8_t *)PyByteArray_AS_STRING(o_maker);
    const char *p = (const char *)data.buf;

    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < m; k++) {
        const char *s = p + starts[k], *e = p + ends[k], *stop, *v, *t;
        status[k] = 0;
        ts[k] = 0;
        px[k] = qty[k] = 0.0;
        maker[k] = 0;
        if (e - s < 2 || e[-1] != '}' || e[-2] != '}')
            continue;
        if (kind_len) {
            if (!(v = quoted_value(s, e, kind_key, kind_len, &stop)))
                continue;
            if (stop - v != value_len || memcmp(v, kind_value, (size_t)value_len) != 0) {
                status[k] = 2;
                continue;
            }
        }
        if (!(t = find(s, e, ts_key, ts_len)) || !parse_int(t + ts_len, e, &ts[k]))
            continue;
        if (!(v = quoted_value(s, e, px_key, px_len, &stop)) || parse_number(v, stop, &px[k]) != stop)
            continue;
        if (!(v = quoted_value(s, e, qty_key, qty_len, &stop)) || parse_number(v, stop, &qty[k]) != stop)
            continue;
        if (!(t = find(s, e, maker_key, maker_len)))
            continue;
        t += maker_len;
        if (e - t >= 4 && memcmp(t, "true", 4) == 0)
            maker[k] = 1;
        else if (!(e - t >= 5 && memcmp(t, "false", 5) == 0))
            continue;
        status[k] = 1;
    }
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("(OOOOO)", o_status, o_ts, o_px, o_qty, o_maker);
done:
    Py_XDECREF(o_status); Py_XDECREF(o_ts); Py_XDECREF(o_px); Py_XDECREF(o_qty);
    Py_XDECREF(o_maker);
    PyBuffer_Release(&data);
    PyBuffer_Release(&b_starts);
    PyBuffer_Release(&b_ends);
    return result;
}

static PyMethodDef methods[] = {
    {"split_lines", split_lines, METH_VARARGS, "Index the lines of a recording chunk."},
    {"depth_levels", depth_levels, METH_VARARGS, "Timestamps and [px, qty] levels of depth messages."},
    {"trade_fields", trade_fields, METH_VARARGS, "Time, price, quantity and side of trade messages."},
    {"parse_decimals", parse_decimals, METH_VARARGS, "Comma-separated exact decimals to float64."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_scan", .m_size = -1, .m_methods = methods};

PyMODINIT_FUNC PyInit__scan(void) { return PyModule_Create(&module); }
