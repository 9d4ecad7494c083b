/* The relay's per-packet loop in C (optional; see rtpgate/media/native.py and docs/media.md,
 * "The native read loop").
 *
 * A Reader is the event loop's reader callback for one socket of a RelayStream.  It asks the
 * stream (RelayStream._native_route) what a packet may skip Python for -- RTP from the confirmed
 * endpoint, with the SSRC last seen, relayed to a sink whose only stages are SRTP done by
 * libsrtp -- and then, on each wake-up, reads up to BATCH datagrams with recvmmsg, decrypts and
 * encrypts those with the libsrtp session pylibsrtp made (its srtp_t and libsrtp's own functions,
 * passed as addresses: no link dependency, and keys, rollover counters and replay state stay in
 * that one session), and sends them with sendmmsg.  Every other datagram (STUN, DTLS, RTCP, a new
 * source or SSRC, a stream with other stages, media control or subscribers) goes to the stream's
 * Python handler unchanged, in order.  The counters Python reads (the stream's, the interface's,
 * the server's, last_packet) are updated once per wake-up, before any Python code runs.
 *
 * A route may start in the "delayed" learning window, from the endpoint learnt so far; it ends
 * with the window (the route's deadline), when the next packet goes to Python to confirm it.
 *
 * Publish/subscribe: a route may also name the stream's subscribers (RelayStream.fanout), each
 * with its socket, its party's address and no egress stage or one SRTP stage done by libsrtp.
 * Each packet then goes to every subscriber first (sendto from the subscriber's socket; an SRTP
 * copy is encrypted in a scratch buffer with the subscriber's own session), then to the sink,
 * as RelayStream._fan_out and RelayStream.packet do; a publisher may have no sink.  Each
 * subscriber's endpoint, pipeline, socket and output context are watched as the sink's are.
 * A subscriber with its own output context (outcontext.py) gets a copy of the packet with its
 * SSRC, sequence number and timestamp when they differ from the source's; a packet one of the
 * contexts must rebase for (the first, another SSRC, a jump) goes to Python.
 *
 * The route is checked before each packet against the stream's and sink's attributes it was
 * made from (by identity: the engine replaces them, never mutates them), so a change made from
 * Python anywhere takes effect on the next packet without the engine having to tell the reader.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <time.h>

#define BATCH 32
/* the largest datagram read (RECV_SIZE in stream.py) */
#define RECV_SIZE 4096
/* room after a datagram for what srtp_protect appends (tag; no MKI on the native path) */
#define ROOM 256

typedef int (*srtp_call)(void *session, void *packet, int *length);

/* One wake-up's buffers, shared by every reader: the loop runs one callback at a time, with
 * the GIL held throughout. */
static unsigned char buffers[BATCH][RECV_SIZE + ROOM];
static struct sockaddr_storage sources[BATCH];
static struct iovec rx_iov[BATCH];
static struct mmsghdr rx[BATCH];
static struct iovec tx_iov[BATCH];
static struct mmsghdr tx[BATCH];
/* where a subscriber's SRTP copy is encrypted (the packet itself goes on to the others) */
static unsigned char scratch[RECV_SIZE + ROOM];

/* attributes of the stream (and its sink) that a route depends on */
enum { W_ENDPOINT, W_CONFIRMED, W_PIPELINE, W_CONTROL, W_FANOUT, W_RTCP_FANOUT, W_SINK,
       W_RTCP_MUX, W_LAST_SSRC, W_LEARNED, W_LEARNING, W_SIGNALLED, W_SINK_ENDPOINT,
       W_SINK_PIPELINE, W_SINK_SOCK, WATCHED };
static PyObject *watched_names[WATCHED];
static PyObject *s_packets, *s_bytes, *s_last_packet, *s_read, *s_packet, *s_route,
    *s_recv_failed, *s_send_failed, *s_stage_failed;

/* what the counters of one route are, in the order _native_route gives them */
enum { C_IN, C_INGRESS, C_RELAYED, C_OUT, C_EGRESS, COUNTERS };

/* attributes of a subscriber's stream that a route depends on */
enum { S_ENDPOINT, S_PIPELINE, S_SOCK, S_CONTEXT, S_WATCHED };
static PyObject *subscriber_names[S_WATCHED];

/* One subscriber of a route: where its copy of each packet goes. */
typedef struct {
    PyObject *stream;         /* the subscriber's RelayStream */
    PyObject *seen[S_WATCHED];
    Py_ssize_t seen_at[S_WATCHED];
    int send;                 /* 0: no endpoint yet, skipped (as RelayStream._fan_out does) */
    struct sockaddr_storage dest;
    socklen_t dest_len;
    int fd;
    void *session;
    srtp_call call;
    PyObject *stage;
    PyObject *counters[2];    /* its stats_out and its interface's egress */
    Py_ssize_t packets_at[2], bytes_at[2];
    unsigned long long out_packets, out_bytes;  /* this wake-up's, not yet added */
    Py_buffer context;        /* its OutputContext's state (context.buf NULL: none) */
} Copy;

typedef struct {
    PyObject_HEAD
    int fd;
    int inet;                 /* fd is really an IPv4/IPv6 socket (else: never a route) */
    PyObject *stream;
    PyObject *recvfrom;
    PyObject *seen[WATCHED];  /* the attributes the route was made from (NULL: none made) */
    Py_ssize_t seen_at[WATCHED];  /* where each is in its object (a slot), or -1 */
    PyObject *sink;           /* the sink stream, while a route is held */
    int route;                /* 1: packets may take the native path */
    double deadline;          /* until when (wall clock; the learning window of an endpoint
                                 not confirmed yet, else infinity) */
    struct sockaddr_storage expect;
    struct sockaddr_storage dest;
    socklen_t dest_len;
    int sink_fd;
    int rtcp_mux;
    unsigned char ssrc[4];
    void *in_session, *out_session;
    srtp_call in_call, out_call;
    PyObject *in_stage, *out_stage;
    PyObject *counters[COUNTERS];
    Py_ssize_t packets_at[COUNTERS], bytes_at[COUNTERS];
    PyObject *owner;
    Py_ssize_t owner_at;      /* where the owner's last_packet is (a slot), or -1 */
    Copy *copies;             /* the route's subscribers (PyMem), ncopies of them */
    PyObject *capture;        /* the stream's Capture view (its ingress stage's), or NULL */
    Py_ssize_t ncopies;
    /* this wake-up's counts, not yet added to the Python counters */
    unsigned long long in_packets, in_bytes, out_packets, out_bytes;
    /* for tests and statistics: what took which path */
    unsigned long long native_packets, handed_packets, native_copies;
} Reader;

/* 1 if ``fd`` is an IPv4 or IPv6 socket as the kernel sees it.  Not so under an LD_PRELOAD
 * that swaps sockets for AF_UNIX ones (rtpengine's test harness): that library translates the
 * addresses of the calls Python makes (recvfrom, sendto) but not of recvmmsg/sendmmsg, so such
 * a socket is read and written by Python only. */
static int inet_socket(int fd)
{
    int domain = 0;
    socklen_t size = sizeof(domain);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &size) != 0)
        return 0;
    return domain == AF_INET || domain == AF_INET6;
}

static int flush_pending(void);

static void release_context(Copy *copy);

/* the Capture type (its section is after the Poller's) */
typedef struct Capture Capture;
static PyTypeObject CaptureType;
static void capture_append(Capture *view, const struct sockaddr_storage *source,
                           const unsigned char *payload, size_t size, double now, int native);
static int capture_is_view(PyObject *object);
static int capture_flush(PyObject *view);

static void drop_copies(Reader *self)
{
    Copy *copies = self->copies;
    Py_ssize_t count = self->ncopies;
    self->copies = NULL;
    self->ncopies = 0;
    for (Py_ssize_t k = 0; k < count; k++) {
        for (int i = 0; i < S_WATCHED; i++)
            Py_CLEAR(copies[k].seen[i]);
        Py_CLEAR(copies[k].stream);
        Py_CLEAR(copies[k].stage);
        Py_CLEAR(copies[k].counters[0]);
        Py_CLEAR(copies[k].counters[1]);
        release_context(&copies[k]);
    }
    PyMem_Free(copies);
}

static void drop_route(Reader *self)
{
    for (int i = 0; i < WATCHED; i++)
        Py_CLEAR(self->seen[i]);
    Py_CLEAR(self->sink);
    Py_CLEAR(self->in_stage);
    Py_CLEAR(self->out_stage);
    for (int i = 0; i < COUNTERS; i++)
        Py_CLEAR(self->counters[i]);
    Py_CLEAR(self->owner);
    Py_CLEAR(self->capture);
    drop_copies(self);
    self->route = 0;
}

static int Reader_traverse(Reader *self, visitproc visit, void *arg)
{
    Py_VISIT(self->stream);
    Py_VISIT(self->recvfrom);
    for (int i = 0; i < WATCHED; i++)
        Py_VISIT(self->seen[i]);
    Py_VISIT(self->sink);
    Py_VISIT(self->in_stage);
    Py_VISIT(self->out_stage);
    for (int i = 0; i < COUNTERS; i++)
        Py_VISIT(self->counters[i]);
    Py_VISIT(self->owner);
    Py_VISIT(self->capture);
    for (Py_ssize_t k = 0; k < self->ncopies; k++) {
        Copy *copy = &self->copies[k];
        Py_VISIT(copy->stream);
        for (int i = 0; i < S_WATCHED; i++)
            Py_VISIT(copy->seen[i]);
        Py_VISIT(copy->stage);
        Py_VISIT(copy->counters[0]);
        Py_VISIT(copy->counters[1]);
    }
    return 0;
}

static int Reader_clear(Reader *self)
{
    drop_route(self);
    Py_CLEAR(self->stream);
    Py_CLEAR(self->recvfrom);
    return 0;
}

static void Reader_dealloc(Reader *self)
{
    PyObject_GC_UnTrack(self);
    Reader_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Reader_init(Reader *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"fd", "stream", "recvfrom", NULL};
    int fd;
    PyObject *stream, *recvfrom;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "iOO", keywords, &fd, &stream, &recvfrom))
        return -1;
    Reader_clear(self);
    self->fd = fd;
    self->inet = inet_socket(fd);
    Py_INCREF(stream);
    self->stream = stream;
    Py_INCREF(recvfrom);
    self->recvfrom = recvfrom;
    return 0;
}

/* Where attribute ``name`` of ``object`` lives when it is a writable slot (``__slots__``, a
 * slotted dataclass) read and written by the generic attribute functions; -1 otherwise.  Slots
 * are then read and written in place: the generic lookup of each attribute was a sixth of the
 * relay's CPU at one packet per wake-up (perf, the SRTP bench). */
static Py_ssize_t slot_of(PyObject *object, PyObject *name)
{
    PyTypeObject *type = Py_TYPE(object);
    if (type->tp_getattro != PyObject_GenericGetAttr
        || type->tp_setattro != PyObject_GenericSetAttr)
        return -1;
    PyObject *descr = _PyType_Lookup(type, name);  /* borrowed */
    if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type))
        return -1;
    PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
    if (member->type != T_OBJECT_EX || (member->flags & READONLY))
        return -1;
    return member->offset;
}

/* The value in a slot (borrowed, NULL if unset). */
#define SLOT(object, at) (*(PyObject **)((char *)(object) + (at)))

/* The attributes a route depends on, new references; 0 on success. */
static int look(Reader *self, PyObject *now[WATCHED])
{
    memset(now, 0, sizeof(PyObject *) * WATCHED);
    for (int i = 0; i < W_SINK_ENDPOINT; i++) {
        now[i] = PyObject_GetAttr(self->stream, watched_names[i]);
        if (now[i] == NULL)
            goto failed;
    }
    for (int i = W_SINK_ENDPOINT; i < WATCHED; i++) {
        if (now[W_SINK] == Py_None) {
            Py_INCREF(Py_None);
            now[i] = Py_None;
        } else if ((now[i] = PyObject_GetAttr(now[W_SINK], watched_names[i])) == NULL) {
            goto failed;
        }
    }
    return 0;
failed:
    for (int i = 0; i < WATCHED; i++)
        Py_CLEAR(now[i]);
    return -1;
}

/* 1 if attribute ``name`` of ``owner`` (in slot ``at``, or -1) is still ``seen``, 0 if not,
 * -1 on error. */
static int same_object(PyObject *owner, PyObject *name, Py_ssize_t at, PyObject *seen)
{
    if (at >= 0)
        return SLOT(owner, at) == seen;
    PyObject *value = PyObject_GetAttr(owner, name);
    if (value == NULL)
        return -1;
    Py_DECREF(value);  /* its object still holds it: only its identity is compared */
    return value == seen;
}

/* 1 if the route was made from what the stream holds now, 0 if not, -1 on error. */
static int current(Reader *self)
{
    if (self->seen[0] == NULL)
        return 0;
    for (int i = 0; i < WATCHED; i++) {
        PyObject *owner = i < W_SINK_ENDPOINT ? self->stream : self->seen[W_SINK];
        if (owner == Py_None)
            break;  /* no sink: nothing of it is watched */
        int same = same_object(owner, watched_names[i], self->seen_at[i], self->seen[i]);
        if (same <= 0)
            return same;
    }
    for (Py_ssize_t k = 0; k < self->ncopies; k++) {
        Copy *copy = &self->copies[k];
        for (int i = 0; i < S_WATCHED; i++) {
            int same = same_object(copy->stream, subscriber_names[i], copy->seen_at[i],
                                   copy->seen[i]);
            if (same <= 0)
                return same;
        }
    }
    return 1;
}

static int parse_address(PyObject *host, int port, struct sockaddr_storage *out, socklen_t *len)
{
    const char *text = PyUnicode_AsUTF8(host);
    if (text == NULL)
        return -1;
    memset(out, 0, sizeof(*out));
    if (strchr(text, ':') == NULL) {
        struct sockaddr_in *in = (struct sockaddr_in *)out;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, text, &in->sin_addr) != 1)
            return 1;
        *len = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, text, &in6->sin6_addr) != 1)
            return 1;
        *len = sizeof(*in6);
    }
    return 0;
}

static int same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port
        && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* ------------------------------------------------------- a subscriber's output context
 * (rtpgate/media/outcontext.py): its own SSRC, sequence and timestamp offsets.  Python holds
 * the logic (rebasing when the source's numbering breaks); here a packet that needs no rebase
 * advances the context and gets the subscriber's header, and one that does goes to Python. */

/* the fields of OutputContext.state, in its order */
enum { CTX_SSRC_OUT, CTX_SEQ_OFFSET, CTX_TS_OFFSET, CTX_SSRC_IN, CTX_LAST_SEQ, CTX_LAST_TS,
       CTX_STEP, CTX_LAST_TIME, CTX_FIELDS };
#define CTX_MAX_DROPOUT 3000
#define CTX_MAX_MISORDER 100
#define CTX_MAX_STEP 90000

/* Hold ``context`` (an OutputContext's state array, or None) for ``copy``: 0, -1 on error. */
static int hold_context(Copy *copy, PyObject *context)
{
    if (context == Py_None)
        return 0;
    if (PyObject_GetBuffer(context, &copy->context, PyBUF_WRITABLE | PyBUF_FORMAT) < 0)
        return -1;
    if (copy->context.len != CTX_FIELDS * (Py_ssize_t)sizeof(long long)
        || copy->context.itemsize != (Py_ssize_t)sizeof(long long)) {
        release_context(copy);
        PyErr_SetString(PyExc_ValueError, "_native_route: not an OutputContext state");
        return -1;
    }
    return 0;
}

static void release_context(Copy *copy)
{
    if (copy->context.buf != NULL)
        PyBuffer_Release(&copy->context);
    copy->context.buf = NULL;
}

static uint32_t read32(const unsigned char *at)
{
    return (uint32_t)at[0] << 24 | (uint32_t)at[1] << 16 | (uint32_t)at[2] << 8 | at[3];
}

static void write32(unsigned char *at, uint32_t value)
{
    at[0] = (unsigned char)(value >> 24);
    at[1] = (unsigned char)(value >> 16);
    at[2] = (unsigned char)(value >> 8);
    at[3] = (unsigned char)value;
}

/* 1 when the RTP packet ``data`` needs OutputContext.rtp's rebase for some subscriber of the
 * route (not started, another source SSRC, a jump of the sequence numbers). */
static int context_rebases(const Reader *self, const unsigned char *data)
{
    uint32_t ssrc = read32(data + 8);
    unsigned seq = (unsigned)data[2] << 8 | data[3];
    for (Py_ssize_t k = 0; k < self->ncopies; k++) {
        const long long *s = self->copies[k].context.buf;
        if (s == NULL)
            continue;
        unsigned step = (seq - (unsigned)s[CTX_LAST_SEQ]) & 0xFFFF;
        if (s[CTX_SSRC_IN] != (long long)ssrc
            || (step > CTX_MAX_DROPOUT && step < 0x10000 - CTX_MAX_MISORDER))
            return 1;
    }
    return 0;
}

/* Advance ``copy``'s context with ``data`` relayed at ``now`` (seconds; context_rebases said
 * no rebase is due), as OutputContext.rtp does; 1 when the subscriber's header differs from
 * the source's. */
static int context_advance(Copy *copy, const unsigned char *data, double now)
{
    long long *s = copy->context.buf;
    if (s == NULL)
        return 0;
    unsigned seq = (unsigned)data[2] << 8 | data[3];
    uint32_t ts = read32(data + 4);
    unsigned step = (seq - (unsigned)s[CTX_LAST_SEQ]) & 0xFFFF;
    if (step > 0 && step <= CTX_MAX_DROPOUT) {
        uint32_t delta = ts - (uint32_t)s[CTX_LAST_TS];
        if (step == 1 && delta > 0 && delta <= CTX_MAX_STEP)
            s[CTX_STEP] = delta;
        s[CTX_LAST_SEQ] = seq;
        s[CTX_LAST_TS] = ts;
        s[CTX_LAST_TIME] = (long long)(now * 1000);
    }
    return s[CTX_SSRC_OUT] != s[CTX_SSRC_IN] || s[CTX_SEQ_OFFSET] || s[CTX_TS_OFFSET];
}

/* Give the header at ``out`` (a copy of the packet) the subscriber's SSRC and numbers. */
static void context_apply(const Copy *copy, unsigned char *out)
{
    const long long *s = copy->context.buf;
    unsigned seq = ((unsigned)out[2] << 8 | out[3]) + (unsigned)s[CTX_SEQ_OFFSET];
    out[2] = (unsigned char)(seq >> 8);
    out[3] = (unsigned char)seq;
    write32(out + 4, read32(out + 4) + (uint32_t)s[CTX_TS_OFFSET]);
    write32(out + 8, (uint32_t)s[CTX_SSRC_OUT]);
}

/* Fill ``copy`` from one of the route's subscriber entries: ``(stream,)`` for one without an
 * endpoint, else ``(stream, host, port, fd, stage, session, function, stats_out, egress,
 * context)`` (context: its OutputContext's state, or None).
 * 0 on success, 1 for an address the native path does not take, -1 on error. */
static int make_copy(Copy *copy, PyObject *entry)
{
    PyObject *stream, *host = NULL, *stage = Py_None, *out = NULL, *egress = NULL,
        *context = Py_None;
    int port = 0, fd = -1;
    unsigned long long session = 0, call = 0;
    if (!PyTuple_Check(entry)) {
        PyErr_SetString(PyExc_TypeError, "_native_route: a subscriber entry is a tuple");
        return -1;
    }
    if (PyTuple_GET_SIZE(entry) == 1) {
        stream = PyTuple_GET_ITEM(entry, 0);
    } else if (!PyArg_ParseTuple(entry, "OUiiOKKOOO:_native_route subscriber", &stream, &host,
                                 &port, &fd, &stage, &session, &call, &out, &egress,
                                 &context)) {
        return -1;
    }
    Py_INCREF(stream);
    copy->stream = stream;
    for (int i = 0; i < S_WATCHED; i++) {
        if ((copy->seen[i] = PyObject_GetAttr(stream, subscriber_names[i])) == NULL)
            return -1;
        copy->seen_at[i] = slot_of(stream, subscriber_names[i]);
    }
    if (host == NULL)
        return 0;  /* skipped until its endpoint is known (a change of the route) */
    if (parse_address(host, port, &copy->dest, &copy->dest_len) != 0)
        return PyErr_Occurred() ? -1 : 1;
    if (!inet_socket(fd))
        return 1;
    copy->fd = fd;
    copy->session = (void *)(uintptr_t)session;
    copy->call = (srtp_call)(uintptr_t)call;
    Py_INCREF(stage);
    copy->stage = stage;
    PyObject *counters[2] = {out, egress};
    for (int i = 0; i < 2; i++) {
        Py_INCREF(counters[i]);
        copy->counters[i] = counters[i];
        copy->packets_at[i] = slot_of(counters[i], s_packets);
        copy->bytes_at[i] = slot_of(counters[i], s_bytes);
    }
    if (hold_context(copy, context) < 0)
        return -1;
    copy->send = 1;
    return 0;
}

/* Ask the stream for its route; 0 on success (self->route says whether there is one). */
static int make_route(Reader *self)
{
    if (flush_pending() < 0)  /* Python code runs */
        return -1;
    drop_route(self);
    PyObject *now[WATCHED];
    if (look(self, now) < 0)
        return -1;
    PyObject *route = PyObject_CallMethodNoArgs(self->stream, s_route);
    if (route == NULL) {
        for (int i = 0; i < WATCHED; i++)
            Py_CLEAR(now[i]);
        return -1;
    }
    memcpy(self->seen, now, sizeof(now));  /* taken over */
    for (int i = 0; i < WATCHED; i++) {
        PyObject *owner = i < W_SINK_ENDPOINT ? self->stream : now[W_SINK];
        self->seen_at[i] = owner == Py_None ? -1 : slot_of(owner, watched_names[i]);
    }
    if (route == Py_None) {
        Py_DECREF(route);
        return 0;
    }
    PyObject *expect_host, *dest_host, *last_ssrc, *in_stage, *out_stage, *counters, *owner,
        *sink, *copies, *capture = Py_None;
    int expect_port, dest_port, sink_fd, rtcp_mux;
    unsigned long long in_session, in_call, out_session, out_call;
    double deadline;
    if (!PyArg_ParseTuple(route, "UiOUiipSOKKOKKO!OO!d|O:_native_route", &expect_host,
                          &expect_port, &sink, &dest_host, &dest_port, &sink_fd, &rtcp_mux,
                          &last_ssrc, &in_stage, &in_session, &in_call, &out_stage,
                          &out_session, &out_call, &PyTuple_Type, &counters, &owner,
                          &PyTuple_Type, &copies, &deadline, &capture)) {
        Py_DECREF(route);
        return -1;
    }
    if (capture != Py_None && !capture_is_view(capture)) {
        Py_DECREF(route);
        PyErr_SetString(PyExc_TypeError, "_native_route: the capture is a Capture's stream view");
        return -1;
    }
    socklen_t expect_len;
    if (PyBytes_GET_SIZE(last_ssrc) != 4 || PyTuple_GET_SIZE(counters) != COUNTERS
        || parse_address(expect_host, expect_port, &self->expect, &expect_len) != 0
        || (sink != Py_None
            && (parse_address(dest_host, dest_port, &self->dest, &self->dest_len) != 0
                || !inet_socket(sink_fd)))) {
        Py_DECREF(route);
        if (PyErr_Occurred())
            return -1;
        return 0;  /* an address the native path does not take: Python relays */
    }
    Py_ssize_t count = PyTuple_GET_SIZE(copies);
    if (count > 0) {
        self->copies = PyMem_Calloc((size_t)count, sizeof(Copy));
        if (self->copies == NULL) {
            Py_DECREF(route);
            PyErr_NoMemory();
            return -1;
        }
        self->ncopies = count;  /* the entries made so far are cleared by drop_copies */
        for (Py_ssize_t k = 0; k < count; k++) {
            int status = make_copy(&self->copies[k], PyTuple_GET_ITEM(copies, k));
            if (status != 0) {
                drop_copies(self);
                Py_DECREF(route);
                return status < 0 ? -1 : 0;
            }
        }
    }
    memcpy(self->ssrc, PyBytes_AS_STRING(last_ssrc), 4);
    self->sink_fd = sink == Py_None ? -1 : sink_fd;
    self->rtcp_mux = rtcp_mux;
    self->deadline = deadline;
    self->in_session = (void *)(uintptr_t)in_session;
    self->in_call = (srtp_call)(uintptr_t)in_call;
    self->out_session = (void *)(uintptr_t)out_session;
    self->out_call = (srtp_call)(uintptr_t)out_call;
    Py_INCREF(in_stage);
    self->in_stage = in_stage;
    Py_INCREF(out_stage);
    self->out_stage = out_stage;
    Py_INCREF(sink);
    self->sink = sink;
    for (int i = 0; i < COUNTERS; i++) {
        self->counters[i] = PyTuple_GET_ITEM(counters, i);
        Py_INCREF(self->counters[i]);
        self->packets_at[i] = slot_of(self->counters[i], s_packets);
        self->bytes_at[i] = slot_of(self->counters[i], s_bytes);
    }
    Py_INCREF(owner);
    self->owner = owner;
    if (capture != Py_None) {
        Py_INCREF(capture);
        self->capture = capture;
    }
    self->owner_at = slot_of(owner, s_last_packet);
    self->route = 1;
    Py_DECREF(route);
    return 0;
}

/* 0 when the route is current (made again if it was not), -1 on error. */
static int check_route(Reader *self)
{
    int fresh = current(self);
    if (fresh < 0)
        return -1;
    return fresh ? 0 : make_route(self);
}

static int add(PyObject *counter, Py_ssize_t at, PyObject *name, unsigned long long amount)
{
    if (amount == 0)
        return 0;
    if (at >= 0) {
        PyObject *old = SLOT(counter, at);
        if (old != NULL && PyLong_CheckExact(old)) {
            int overflow;
            long long value = PyLong_AsLongLongAndOverflow(old, &overflow);
            if (!overflow && value >= 0 && (unsigned long long)value < (1ULL << 62)
                && amount < (1ULL << 62)) {
                PyObject *sum = PyLong_FromLongLong(value + (long long)amount);
                if (sum == NULL)
                    return -1;
                SLOT(counter, at) = sum;
                Py_DECREF(old);
                return 0;
            }
        }
    }
    PyObject *value = PyObject_GetAttr(counter, name);
    if (value == NULL)
        return -1;
    PyObject *more = PyLong_FromUnsignedLongLong(amount);
    if (more == NULL) {
        Py_DECREF(value);
        return -1;
    }
    PyObject *sum = PyNumber_InPlaceAdd(value, more);
    Py_DECREF(value);
    Py_DECREF(more);
    if (sum == NULL)
        return -1;
    int status = PyObject_SetAttr(counter, name, sum);
    Py_DECREF(sum);
    return status;
}

/* A Poller round (its callback running the ready readers) is on: readers stamp last_packet
 * with the round's time and leave the counters shared by many streams (the interface's and the
 * server's) in ``pending``, added once at the end of the round or before any Python code runs
 * (flush_pending), so that Python never sees counts that are not there yet. */
static int in_round;
static double round_now;
static PyObject *round_stamp;  /* round_now as a float, made when first needed */

#define PENDING 16
typedef struct {
    PyObject *counter;        /* strong */
    Py_ssize_t packets_at, bytes_at;
    unsigned long long packets, bytes;
} Pending;
static Pending pending[PENDING];
static int npending;

/* Add what is pending to the shared counters; 0, or -1 on error (the rest is then lost). */
static int flush_pending(void)
{
    int status = 0;
    int count = npending;
    npending = 0;
    for (int i = 0; i < count; i++) {
        Pending *entry = &pending[i];
        if (status == 0
            && (add(entry->counter, entry->packets_at, s_packets, entry->packets) < 0
                || add(entry->counter, entry->bytes_at, s_bytes, entry->bytes) < 0))
            status = -1;
        Py_DECREF(entry->counter);
    }
    return status;
}

/* Count packets and bytes on a shared counter: now, or at the end of the round. */
static int add_shared(PyObject *counter, Py_ssize_t packets_at, Py_ssize_t bytes_at,
                      unsigned long long packets, unsigned long long bytes)
{
    if (!in_round)
        return add(counter, packets_at, s_packets, packets) < 0
            || add(counter, bytes_at, s_bytes, bytes) < 0 ? -1 : 0;
    for (int i = 0; i < npending; i++)
        if (pending[i].counter == counter) {
            pending[i].packets += packets;
            pending[i].bytes += bytes;
            return 0;
        }
    if (npending == PENDING && flush_pending() < 0)
        return -1;
    Py_INCREF(counter);
    pending[npending++] = (Pending){counter, packets_at, bytes_at, packets, bytes};
    return 0;
}

/* Set the owner's last_packet to ``now``. */
static int stamp(Reader *self, double now)
{
    PyObject *value;
    if (in_round && now == round_now) {
        if (round_stamp == NULL && (round_stamp = PyFloat_FromDouble(now)) == NULL)
            return -1;
        value = round_stamp;
        Py_INCREF(value);
    } else if ((value = PyFloat_FromDouble(now)) == NULL) {
        return -1;
    }
    if (self->owner_at >= 0) {
        PyObject *old = SLOT(self->owner, self->owner_at);
        SLOT(self->owner, self->owner_at) = value;  /* the reference taken over */
        Py_XDECREF(old);
        return 0;
    }
    int status = PyObject_SetAttr(self->owner, s_last_packet, value);
    Py_DECREF(value);
    return status;
}

/* Add this wake-up's counts to the Python counters; with ``everything``, also what is pending
 * (before Python code runs), else the shared counters' part may wait for the round's end. */
static int count_up(Reader *self, double now, int everything)
{
    if (self->in_packets) {
        if (add(self->counters[C_IN], self->packets_at[C_IN], s_packets, self->in_packets) < 0
            || add(self->counters[C_IN], self->bytes_at[C_IN], s_bytes, self->in_bytes) < 0)
            return -1;
        for (int i = C_INGRESS; i <= C_RELAYED; i++)
            if (add_shared(self->counters[i], self->packets_at[i], self->bytes_at[i],
                           self->in_packets, self->in_bytes) < 0)
                return -1;
        if (stamp(self, now) < 0)
            return -1;
    }
    if (self->out_packets) {
        if (add(self->counters[C_OUT], self->packets_at[C_OUT], s_packets, self->out_packets) < 0
            || add(self->counters[C_OUT], self->bytes_at[C_OUT], s_bytes, self->out_bytes) < 0
            || add_shared(self->counters[C_EGRESS], self->packets_at[C_EGRESS],
                          self->bytes_at[C_EGRESS], self->out_packets, self->out_bytes) < 0)
            return -1;
    }
    self->in_packets = self->in_bytes = self->out_packets = self->out_bytes = 0;
    for (Py_ssize_t k = 0; k < self->ncopies; k++) {
        Copy *copy = &self->copies[k];
        if (!copy->out_packets)
            continue;
        if (add(copy->counters[0], copy->packets_at[0], s_packets, copy->out_packets) < 0
            || add(copy->counters[0], copy->bytes_at[0], s_bytes, copy->out_bytes) < 0
            || add_shared(copy->counters[1], copy->packets_at[1], copy->bytes_at[1],
                          copy->out_packets, copy->out_bytes) < 0)
            return -1;
        copy->out_packets = copy->out_bytes = 0;
    }
    return everything ? flush_pending() : 0;
}

/* Make every count so far Python's (before Python code runs). */
static int flush_counts(Reader *self, double now)
{
    return count_up(self, now, 1);
}

/* An OSError for errno, as the socket module raises it. */
static PyObject *os_error(int number)
{
    errno = number;
    PyErr_SetFromErrno(PyExc_OSError);
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    Py_XDECREF(type);
    Py_XDECREF(traceback);
    return value;
}

static int call_with_error(PyObject *target, PyObject *method, int number)
{
    if (flush_pending() < 0)
        return -1;
    PyObject *error = os_error(number);
    if (error == NULL)
        return -1;
    PyObject *result = PyObject_CallMethodOneArg(target, method, error);
    Py_DECREF(error);
    Py_XDECREF(result);
    return result == NULL ? -1 : 0;
}

/* Send the queued packets to the route's destination. */
static int flush_sends(Reader *self, int queued)
{
    int done = 0;
    while (done < queued) {
        int sent = sendmmsg(self->sink_fd, tx + done, (unsigned int)(queued - done), 0);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            /* this packet is lost, as Python's sendto would lose it: counted on the sink */
            if (call_with_error(self->sink, s_send_failed, errno) < 0)
                return -1;
            done++;
            continue;
        }
        for (int i = done; i < done + sent; i++)
            self->out_bytes += tx[i].msg_len;
        self->out_packets += (unsigned)sent;
        done += sent;
    }
    return 0;
}

static PyObject *source_tuple(const struct sockaddr_storage *source)
{
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    if (source->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)source;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        return Py_BuildValue("(si)", host, ntohs(in->sin_port));
    }
    if (source->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)source;
        if (getnameinfo((const struct sockaddr *)in6, sizeof(*in6), host, sizeof(host), NULL,
                        0, NI_NUMERICHOST) != 0)
            inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        return Py_BuildValue("(siII)", host, ntohs(in6->sin6_port),
                             ntohl(in6->sin6_flowinfo), in6->sin6_scope_id);
    }
    PyErr_SetString(PyExc_OSError, "unexpected address family");
    return NULL;
}

/* The RTP header (CSRCs and extension) fits in the packet, as libsrtp requires. */
static int header_fits(const unsigned char *data, int size)
{
    int start = 12 + 4 * (data[0] & 0x0F);
    if (data[0] & 0x10) {
        if (start + 4 > size)
            return 0;
        start += 4 + 4 * (data[start + 2] << 8 | data[start + 3]);
    }
    return start <= size;
}

/* Hand one datagram to the stream's Python handler. */
static int hand_over(Reader *self, int index, double now)
{
    PyObject *data = PyBytes_FromStringAndSize((const char *)buffers[index],
                                               rx[index].msg_len);
    if (data == NULL)
        return -1;
    PyObject *source = source_tuple(&sources[index]);
    if (source == NULL) {
        Py_DECREF(data);
        return -1;
    }
    PyObject *stamp = PyFloat_FromDouble(now);
    PyObject *result = stamp == NULL ? NULL : PyObject_CallMethodObjArgs(
        self->stream, s_packet, data, source, stamp, NULL);
    Py_XDECREF(stamp);
    Py_DECREF(data);
    Py_DECREF(source);
    self->handed_packets++;
    if (result == NULL)
        return -1;
    Py_DECREF(result);
    return 0;
}

static int stage_failed(PyObject *stream, PyObject *stage, int status)
{
    if (flush_pending() < 0)
        return -1;
    PyObject *code = PyLong_FromLong(status);
    if (code == NULL)
        return -1;
    PyObject *result = PyObject_CallMethodObjArgs(stream, s_stage_failed, stage, code, NULL);
    Py_DECREF(code);
    Py_XDECREF(result);
    return result == NULL ? -1 : 0;
}

/* Send one packet to every subscriber of the route, as RelayStream._fan_out does: through the
 * subscriber's SRTP session if it has one, counted on it; a failure is the subscriber's (its
 * _send_failed, its _stage_failed).  *called is set when Python code ran.  0, or -1 on error. */
static int fan_out(Reader *self, unsigned char *data, int size, double now, int *called)
{
    for (Py_ssize_t k = 0; k < self->ncopies; k++) {
        Copy *copy = &self->copies[k];
        if (!copy->send)
            continue;
        unsigned char *out = data;
        int length = size;
        if (context_advance(copy, data, now)) {
            memcpy(scratch, data, (size_t)size);
            context_apply(copy, scratch);
            out = scratch;
        }
        if (copy->call != NULL) {
            if (out != scratch)
                memcpy(scratch, data, (size_t)size);
            int status = copy->call(copy->session, scratch, &length);
            if (status != 0) {
                *called = 1;
                if (stage_failed(copy->stream, copy->stage, status) < 0)
                    return -1;
                continue;
            }
            out = scratch;
        }
        ssize_t sent;
        do
            sent = sendto(copy->fd, out, (size_t)length, 0, (struct sockaddr *)&copy->dest,
                          copy->dest_len);
        while (sent < 0 && errno == EINTR);
        if (sent < 0) {
            *called = 1;
            if (call_with_error(copy->stream, s_send_failed, errno) < 0)
                return -1;
            continue;
        }
        copy->out_packets++;
        copy->out_bytes += (unsigned long long)sent;
        self->native_copies++;
    }
    return 0;
}

static double wall_clock(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (double)now.tv_sec + now.tv_nsec / 1e9;
}

/* The loop's callback: read and relay what is waiting. */
static PyObject *Reader_call(Reader *self, PyObject *args, PyObject *kwargs)
{
    if (!self->inet) {
        if (flush_pending() < 0)
            return NULL;
        return PyObject_CallMethodOneArg(self->stream, s_read, self->recvfrom);
    }
    if (check_route(self) < 0)
        return NULL;
    if (!self->route) {  /* the Python read loop, as without this module */
        if (flush_pending() < 0)
            return NULL;
        return PyObject_CallMethodOneArg(self->stream, s_read, self->recvfrom);
    }
    for (int i = 0; i < BATCH; i++)
        rx[i].msg_hdr.msg_namelen = sizeof(sources[i]);
    int received = recvmmsg(self->fd, rx, BATCH, MSG_DONTWAIT, NULL);
    if (received < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            Py_RETURN_NONE;
        if (call_with_error(self->stream, s_recv_failed, errno) < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    double now = in_round ? round_now : wall_clock();
    int queued = 0;
    for (int i = 0; i < received; i++) {
        unsigned char *data = buffers[i];
        int size = (int)rx[i].msg_len;
        if (!(self->route && now <= self->deadline && size >= 12 && (data[0] & 0xC0) == 0x80
              && !(self->rtcp_mux && data[1] >= 192 && data[1] <= 223)
              && memcmp(data + 8, self->ssrc, 4) == 0
              && same_address(&sources[i], &self->expect) && header_fits(data, size)
              && !context_rebases(self, data))) {
            /* everything sent so far leaves first, and the counters are Python's again */
            if (flush_sends(self, queued) < 0 || flush_counts(self, now) < 0)
                return NULL;
            queued = 0;
            if (hand_over(self, i, now) < 0 || check_route(self) < 0)
                return NULL;
            continue;
        }
        self->in_packets++;
        self->in_bytes += (unsigned)size;
        self->native_packets++;
        if (self->in_call != NULL) {
            int status = self->in_call(self->in_session, data, &size);
            if (status != 0) {
                if (flush_sends(self, queued) < 0 || flush_counts(self, now) < 0
                    || stage_failed(self->stream, self->in_stage, status) < 0)
                    return NULL;
                queued = 0;
                if (check_route(self) < 0)
                    return NULL;
                continue;
            }
        }
        if (self->capture != NULL)  /* where the stage's copy is made on the Python path */
            capture_append((Capture *)self->capture, &sources[i], data, (size_t)size, now, 1);
        if (self->ncopies > 0) {
            /* what was queued for the sink leaves first: each party gets packets in order */
            if (queued > 0 && flush_sends(self, queued) < 0)
                return NULL;
            queued = 0;
            int called = 0;
            if (fan_out(self, data, size, now, &called) < 0)
                return NULL;
            if (called) {  /* Python ran: the route may have changed */
                if (flush_counts(self, now) < 0 || check_route(self) < 0)
                    return NULL;
                if (!self->route)
                    continue;
            }
        }
        if (self->sink_fd < 0)
            continue;  /* a publisher: its subscribers are its only sinks */
        if (self->out_call != NULL) {
            int status = self->out_call(self->out_session, data, &size);
            if (status != 0) {
                if (flush_sends(self, queued) < 0 || flush_counts(self, now) < 0
                    || stage_failed(self->stream, self->out_stage, status) < 0)
                    return NULL;
                queued = 0;
                if (check_route(self) < 0)
                    return NULL;
                continue;
            }
        }
        tx_iov[queued].iov_base = data;
        tx_iov[queued].iov_len = (size_t)size;
        tx[queued].msg_hdr.msg_name = &self->dest;
        tx[queued].msg_hdr.msg_namelen = self->dest_len;
        queued++;
    }
    if (flush_sends(self, queued) < 0 || count_up(self, now, !in_round) < 0)
        return NULL;
    if (self->capture != NULL) {  /* its owner may want what it holds now */
        PyObject *capture = self->capture;
        Py_INCREF(capture);
        int status = capture_flush(capture);
        Py_DECREF(capture);
        if (status < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *Reader_get_route(Reader *self, void *closure)
{
    return PyBool_FromLong(self->route);
}

static PyMemberDef Reader_members[] = {
    {"fd", T_INT, offsetof(Reader, fd), READONLY, "the descriptor read"},
    {"native_packets", T_ULONGLONG, offsetof(Reader, native_packets), READONLY,
     "RTP packets relayed without Python"},
    {"handed_packets", T_ULONGLONG, offsetof(Reader, handed_packets), READONLY,
     "datagrams of native wake-ups handed to the stream's Python handler"},
    {"native_copies", T_ULONGLONG, offsetof(Reader, native_copies), READONLY,
     "copies of those packets sent to subscribers without Python"},
    {NULL},
};

static PyGetSetDef Reader_getset[] = {
    {"routed", (getter)Reader_get_route, NULL, "the last packet's route was native", NULL},
    {NULL},
};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rtpgate.media._fastrelay.Reader",
    .tp_doc = "Reader(fd, stream, recvfrom): the loop's reader callback for one socket",
    .tp_basicsize = sizeof(Reader),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Reader_init,
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_traverse = (traverseproc)Reader_traverse,
    .tp_clear = (inquiry)Reader_clear,
    .tp_call = (ternaryfunc)Reader_call,
    .tp_members = Reader_members,
    .tp_getset = Reader_getset,
};

/* ------------------------------------------------------------------------------ Poller */

/* One epoll set over the relay's sockets, registered with the event loop once: each wake-up of
 * the loop for it runs the Reader of every socket that is ready, in C, instead of the loop
 * dispatching one Python-level callback per socket.  At 50 packets/s per port a socket wakes
 * with one packet, so that dispatch (the loop's own epoll_wait bookkeeping and its call of the
 * reader) was a per-packet cost.  The set is level-triggered, like the loop's own watchers: a
 * Reader reads at most BATCH datagrams, and what it leaves makes the set readable again. */

#define EVENTS 256

typedef struct {
    PyObject_HEAD
    int fd;                   /* the epoll set (-1 once closed) */
    Reader **table;           /* by descriptor: the Reader watched for it (strong), or NULL */
    int size;                 /* entries in table */
    Py_ssize_t count;         /* readers watched */
} Poller;

static int Poller_traverse(Poller *self, visitproc visit, void *arg)
{
    for (int i = 0; i < self->size; i++)
        Py_VISIT((PyObject *)self->table[i]);
    return 0;
}

static int Poller_clear(Poller *self)
{
    Reader **table = self->table;
    int size = self->size;
    self->table = NULL;
    self->size = 0;
    self->count = 0;
    for (int i = 0; i < size; i++)
        Py_XDECREF((PyObject *)table[i]);
    PyMem_Free(table);
    return 0;
}

static void Poller_dealloc(Poller *self)
{
    PyObject_GC_UnTrack(self);
    Poller_clear(self);
    if (self->fd >= 0)
        close(self->fd);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Poller_init(Poller *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "", keywords))
        return -1;
    if (self->fd >= 0)
        close(self->fd);
    Poller_clear(self);
    self->fd = epoll_create1(EPOLL_CLOEXEC);
    if (self->fd < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

static PyObject *Poller_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    Poller *self = (Poller *)type->tp_alloc(type, 0);
    if (self != NULL)
        self->fd = -1;
    return (PyObject *)self;
}

static int closed(Poller *self)
{
    if (self->fd >= 0)
        return 0;
    PyErr_SetString(PyExc_ValueError, "the poller is closed");
    return 1;
}

/* Drop the Reader watched for ``fd`` from the table (not from the epoll set). */
static void forget_fd(Poller *self, int fd)
{
    if (fd < 0 || fd >= self->size || self->table[fd] == NULL)
        return;
    Reader *old = self->table[fd];
    self->table[fd] = NULL;
    self->count--;
    Py_DECREF((PyObject *)old);
}

static PyObject *Poller_add(Poller *self, PyObject *arg)
{
    if (closed(self))
        return NULL;
    if (!PyObject_TypeCheck(arg, &ReaderType)) {
        PyErr_SetString(PyExc_TypeError, "Poller.add takes a Reader");
        return NULL;
    }
    Reader *reader = (Reader *)arg;
    int fd = reader->fd;
    if (fd < 0) {
        PyErr_SetString(PyExc_ValueError, "Poller.add: the reader has no descriptor");
        return NULL;
    }
    if (fd >= self->size) {
        int size = self->size ? self->size : 64;
        while (size <= fd)
            size *= 2;
        Reader **table = PyMem_Realloc(self->table, sizeof(Reader *) * (size_t)size);
        if (table == NULL)
            return PyErr_NoMemory();
        memset(table + self->size, 0, sizeof(Reader *) * (size_t)(size - self->size));
        self->table = table;
        self->size = size;
    }
    struct epoll_event event = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(self->fd, EPOLL_CTL_ADD, fd, &event) != 0) {
        /* already in the set: a descriptor closed without removal whose number came back */
        if (errno != EEXIST || epoll_ctl(self->fd, EPOLL_CTL_MOD, fd, &event) != 0)
            return PyErr_SetFromErrno(PyExc_OSError);
    }
    forget_fd(self, fd);
    Py_INCREF(arg);
    self->table[fd] = reader;
    self->count++;
    Py_RETURN_NONE;
}

static PyObject *Poller_remove(Poller *self, PyObject *arg)
{
    if (closed(self))
        return NULL;
    long fd = PyLong_AsLong(arg);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    if (fd < 0 || fd > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "Poller.remove: not a descriptor");
        return NULL;
    }
    /* a descriptor already closed left the set by itself (EBADF, ENOENT): not an error */
    epoll_ctl(self->fd, EPOLL_CTL_DEL, (int)fd, NULL);
    forget_fd(self, (int)fd);
    Py_RETURN_NONE;
}

static PyObject *Poller_close(Poller *self, PyObject *unused)
{
    Poller_clear(self);
    if (self->fd >= 0) {
        close(self->fd);
        self->fd = -1;
    }
    Py_RETURN_NONE;
}

/* The loop's callback for the epoll set: run the Reader of every ready socket.  A Reader whose
 * socket is removed while others run (Python code they called released a stream) is skipped;
 * an exception stops the round and goes to the loop, which reports it, and the sockets not run
 * yet are still ready at the next wake-up. */
static PyObject *Poller_call(Poller *self, PyObject *args, PyObject *kwargs)
{
    if (closed(self))
        return NULL;
    struct epoll_event events[EVENTS];
    int ready;
    do
        ready = epoll_wait(self->fd, events, EVENTS, 0);
    while (ready < 0 && errno == EINTR);
    if (ready < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    if (ready == 0)
        Py_RETURN_NONE;
    Reader *readers[EVENTS];
    int count = 0;
    for (int i = 0; i < ready; i++) {
        int fd = events[i].data.fd;
        if (fd >= 0 && fd < self->size && self->table[fd] != NULL) {
            readers[count] = self->table[fd];
            Py_INCREF((PyObject *)readers[count]);
            count++;
        }
    }
    int failed = 0;
    in_round = 1;
    round_now = wall_clock();
    for (int i = 0; i < count; i++) {
        Reader *reader = readers[i];
        int fd = reader->fd;
        if (fd < 0 || fd >= self->size || self->table[fd] != reader)
            continue;  /* removed meanwhile */
        PyObject *result = Reader_call(reader, NULL, NULL);
        if (result == NULL) {
            failed = 1;
            break;
        }
        Py_DECREF(result);
    }
    in_round = 0;
    Py_CLEAR(round_stamp);
    if (failed) {  /* the exception stays the one raised; the counts are still added */
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        if (flush_pending() < 0)
            PyErr_Clear();
        PyErr_Restore(type, value, traceback);
    } else if (flush_pending() < 0) {
        failed = 1;
    }
    for (int k = 0; k < count; k++)
        Py_DECREF((PyObject *)readers[k]);
    if (failed)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *Poller_len(Poller *self, void *closure)
{
    return PyLong_FromSsize_t(self->count);
}

static PyMethodDef Poller_methods[] = {
    {"add", (PyCFunction)Poller_add, METH_O,
     "add(reader): watch reader.fd, running the reader when it is readable"},
    {"remove", (PyCFunction)Poller_remove, METH_O,
     "remove(fd): stop watching descriptor fd (closed or not)"},
    {"close", (PyCFunction)Poller_close, METH_NOARGS,
     "close the epoll set and drop every reader"},
    {NULL},
};

static PyMemberDef Poller_members[] = {
    {"fd", T_INT, offsetof(Poller, fd), READONLY, "the epoll set's descriptor (-1: closed)"},
    {NULL},
};

static PyGetSetDef Poller_getset[] = {
    {"watched", (getter)Poller_len, NULL, "how many readers are watched", NULL},
    {NULL},
};

static PyTypeObject PollerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rtpgate.media._fastrelay.Poller",
    .tp_doc = "Poller(): one epoll set over the relay's sockets; the loop's reader callback "
              "for its descriptor runs the Reader of each ready socket",
    .tp_basicsize = sizeof(Poller),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = Poller_new,
    .tp_init = (initproc)Poller_init,
    .tp_dealloc = (destructor)Poller_dealloc,
    .tp_traverse = (traverseproc)Poller_traverse,
    .tp_clear = (inquiry)Poller_clear,
    .tp_call = (ternaryfunc)Poller_call,
    .tp_methods = Poller_methods,
    .tp_members = Poller_members,
    .tp_getset = Poller_getset,
};

/* ------------------------------------------------------------------------------ Capture */

/* A bounded buffer of ready-made pcap records (libpcap's file format, big-endian, as a pcap
 * file with the magic number 0xA1B2C3D4 written big-endian holds them), filled by the native
 * read loop for each packet it relays on a stream whose only stage besides SRTP copies its
 * packets (a stage's ``capture``; RelayStream._native_route) and by that stage on the Python
 * path, so that both paths write the same records, in the order the packets were received.
 *
 * A record is: the record header (seconds, microseconds, captured and original length), an
 * Ethernet header (12 zero bytes and the EtherType) if the capture says so, an IPv4 or IPv6
 * header and a UDP header from the packet's source to the stream's local address (no
 * checksums; a source of the other address family becomes the unspecified address), and the
 * packet -- what rtpengine's endpoint_packet_header fakes.
 *
 * One Capture holds the buffer (Capture(limit, eth, flush_at, full)); capture.stream(host, port)
 * makes a view of it for one stream, with the stream's local address, and views share their
 * buffer.  Whoever writes the file takes what was buffered with take(), which empties the
 * buffer: when it wants to (a timer), and when ``full`` is called, once ``flush_at`` bytes are
 * buffered (after an add(), or at the end of a native wake-up). */

/* buffered bytes beyond which packets are dropped (and counted) until the next take() */
#define CAPTURE_MAX_BYTES (64 * 1024 * 1024)

struct Capture {
    PyObject_HEAD
    PyObject *root;           /* the Capture holding the buffer (NULL: this one) */
    /* the buffer (the root's) */
    unsigned char *data;
    size_t used, allocated;
    Py_ssize_t limit;         /* records that may wait */
    size_t flush_at;          /* buffered bytes at which ``full`` is called (0: never) */
    PyObject *full;           /* called (no arguments) once flush_at bytes are buffered */
    int eth;
    unsigned long long count, native, dropped;
    /* a view's stream: its local address */
    int has_local;
    struct sockaddr_storage local;
    /* the source of the records the Python path added last (by the host's identity) */
    PyObject *last_host;
    int last_port;
    struct sockaddr_storage last_source;
};

static int Capture_traverse(Capture *self, visitproc visit, void *arg)
{
    Py_VISIT(self->root);
    Py_VISIT(self->full);
    Py_VISIT(self->last_host);
    return 0;
}

static int Capture_clear(Capture *self)
{
    Py_CLEAR(self->root);
    Py_CLEAR(self->full);
    Py_CLEAR(self->last_host);
    return 0;
}

static void Capture_dealloc(Capture *self)
{
    PyObject_GC_UnTrack(self);
    Capture_clear(self);
    PyMem_Free(self->data);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Capture_init(Capture *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"limit", "eth", "flush_at", "full", NULL};
    Py_ssize_t limit, flush_at = 0;
    int eth;
    PyObject *full = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "np|nO", keywords, &limit, &eth, &flush_at,
                                     &full))
        return -1;
    if (flush_at < 0 || (full != Py_None && !PyCallable_Check(full))) {
        PyErr_SetString(PyExc_ValueError, "Capture: flush_at >= 0, full callable or None");
        return -1;
    }
    if (self->root != NULL || self->data != NULL) {
        PyErr_SetString(PyExc_TypeError, "Capture: already made");
        return -1;
    }
    self->limit = limit;
    self->eth = eth;
    if (full != Py_None) {
        self->flush_at = (size_t)flush_at;
        Py_INCREF(full);
        self->full = full;
    }
    return 0;
}

/* Append one record for ``size`` bytes at ``payload`` from ``source`` to ``view``'s stream,
 * received at ``now``; counted as dropped when the buffer is full (or memory runs out). */
static void capture_append(Capture *view, const struct sockaddr_storage *source,
                           const unsigned char *payload, size_t size, double now, int native)
{
    Capture *root = view->root != NULL ? (Capture *)view->root : view;
    int ip6 = view->local.ss_family == AF_INET6;
    size_t overhead = (root->eth ? 14 : 0) + (ip6 ? 40 : 20) + 8;
    size_t need = 16 + overhead + size;
    if ((Py_ssize_t)root->count >= root->limit || root->used + need > CAPTURE_MAX_BYTES) {
        root->dropped++;
        return;
    }
    if (root->used + need > root->allocated) {
        size_t allocated = root->allocated ? root->allocated : 65536;
        while (allocated < root->used + need)
            allocated *= 2;
        unsigned char *data = PyMem_Realloc(root->data, allocated);
        if (data == NULL) {
            root->dropped++;
            return;
        }
        root->data = data;
        root->allocated = allocated;
    }
    unsigned char *at = root->data + root->used;
    uint32_t seconds = (uint32_t)now;
    uint32_t header[4] = {htonl(seconds), htonl((uint32_t)((now - (double)seconds) * 1000000)),
                          htonl((uint32_t)(overhead + size)), htonl((uint32_t)(overhead + size))};
    memcpy(at, header, sizeof(header));
    at += 16;
    if (root->eth) {
        memset(at, 0, 12);
        at[12] = ip6 ? 0x86 : 0x08;
        at[13] = ip6 ? 0xDD : 0x00;
        at += 14;
    }
    uint16_t sport = 0, dport;
    int same = source->ss_family == view->local.ss_family;
    if (ip6) {
        const struct sockaddr_in6 *src = (const void *)source, *dst = (const void *)&view->local;
        uint32_t version = htonl(6u << 28);
        uint16_t length = htons((uint16_t)(size + 8));
        memcpy(at, &version, 4);
        memcpy(at + 4, &length, 2);
        at[6] = 17;
        at[7] = 64;
        if (same)
            memcpy(at + 8, &src->sin6_addr, 16);
        else
            memset(at + 8, 0, 16);
        memcpy(at + 24, &dst->sin6_addr, 16);
        dport = dst->sin6_port;
        at += 40;
    } else {
        const struct sockaddr_in *src = (const void *)source, *dst = (const void *)&view->local;
        uint16_t length = htons((uint16_t)(size + 28)), flags = htons(0x4000);
        at[0] = 0x45;
        at[1] = 0;
        memcpy(at + 2, &length, 2);
        memset(at + 4, 0, 2);
        memcpy(at + 6, &flags, 2);
        at[8] = 64;
        at[9] = 17;
        memset(at + 10, 0, 2);
        if (same)
            memcpy(at + 12, &src->sin_addr, 4);
        else
            memset(at + 12, 0, 4);
        memcpy(at + 16, &dst->sin_addr, 4);
        dport = dst->sin_port;
        at += 20;
    }
    if (source->ss_family == AF_INET)
        sport = ((const struct sockaddr_in *)source)->sin_port;
    else if (source->ss_family == AF_INET6)
        sport = ((const struct sockaddr_in6 *)source)->sin6_port;
    uint16_t udp[4] = {sport, dport, htons((uint16_t)(size + 8)), 0};
    memcpy(at, udp, 8);
    at += 8;
    memcpy(at, payload, size);
    root->used += need;
    root->count++;
    if (native)
        root->native++;
}

/* Call the buffer's ``full`` once it holds ``flush_at`` bytes (Python code runs: the counts
 * of a Poller round are made Python's first); 0, or -1 on error. */
static int capture_flush(PyObject *view)
{
    Capture *root = ((Capture *)view)->root != NULL ? (Capture *)((Capture *)view)->root
                                                     : (Capture *)view;
    if (root->full == NULL || root->flush_at == 0 || root->used < root->flush_at)
        return 0;
    if (flush_pending() < 0)
        return -1;
    PyObject *full = root->full;
    Py_INCREF(full);
    PyObject *result = PyObject_CallNoArgs(full);
    Py_DECREF(full);
    Py_XDECREF(result);
    return result == NULL ? -1 : 0;
}

/* 1 if ``object`` is a stream's view of a Capture (what a route may name). */
static int capture_is_view(PyObject *object)
{
    return PyObject_TypeCheck(object, &CaptureType) && ((Capture *)object)->has_local;
}

static PyObject *Capture_stream(Capture *self, PyObject *args)
{
    PyObject *host;
    int port;
    if (!PyArg_ParseTuple(args, "Ui:stream", &host, &port))
        return NULL;
    if (self->root != NULL) {
        PyErr_SetString(PyExc_TypeError, "Capture.stream: already a stream's view");
        return NULL;
    }
    Capture *view = (Capture *)CaptureType.tp_alloc(&CaptureType, 0);
    if (view == NULL)
        return NULL;
    socklen_t length;
    int status = parse_address(host, port, &view->local, &length);
    if (status != 0) {
        Py_DECREF(view);
        if (status > 0)
            PyErr_Format(PyExc_ValueError, "Capture.stream: not an address: %R", host);
        return NULL;
    }
    Py_INCREF(self);
    view->root = (PyObject *)self;
    view->has_local = 1;
    return (PyObject *)view;
}

static PyObject *Capture_add(Capture *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data;
    if (nargs != 3 || !PyUnicode_Check(args[1]) || !PyLong_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "Capture.add(data, host, port)");
        return NULL;
    }
    if (!self->has_local) {
        PyErr_SetString(PyExc_TypeError, "Capture.add: a stream's view adds (stream())");
        return NULL;
    }
    long port = PyLong_AsLong(args[2]);
    if (port == -1 && PyErr_Occurred())
        return NULL;
    if (port < 0 || port > 65535) {
        PyErr_SetString(PyExc_ValueError, "Capture.add: not a port");
        return NULL;
    }
    if (args[1] != self->last_host || port != self->last_port) {
        socklen_t length;
        int status = parse_address(args[1], (int)port, &self->last_source, &length);
        if (status != 0) {
            Py_CLEAR(self->last_host);
            if (status > 0)
                PyErr_Format(PyExc_ValueError, "Capture.add: not an address: %R", args[1]);
            return NULL;
        }
        Py_INCREF(args[1]);
        Py_XSETREF(self->last_host, args[1]);
        self->last_port = (int)port;
    }
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0)
        return NULL;
    capture_append(self, &self->last_source, data.buf, (size_t)data.len, wall_clock(), 0);
    PyBuffer_Release(&data);
    if (capture_flush((PyObject *)self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *Capture_take(Capture *self, PyObject *unused)
{
    Capture *root = self->root != NULL ? (Capture *)self->root : self;
    PyObject *records = PyBytes_FromStringAndSize((const char *)root->data,
                                                  (Py_ssize_t)root->used);
    if (records == NULL)
        return NULL;
    PyObject *result = Py_BuildValue("(NKKK)", records, root->count, root->native,
                                     root->dropped);
    if (result == NULL)
        return NULL;
    root->used = 0;
    root->count = root->native = root->dropped = 0;
    if (root->allocated > 4 * 65536) {  /* a burst's buffer is not kept */
        PyMem_Free(root->data);
        root->data = NULL;
        root->allocated = 0;
    }
    return result;
}

static PyObject *Capture_get_waiting(Capture *self, void *closure)
{
    Capture *root = self->root != NULL ? (Capture *)self->root : self;
    return PyLong_FromUnsignedLongLong(root->count);
}

static PyMethodDef Capture_methods[] = {
    {"stream", (PyCFunction)Capture_stream, METH_VARARGS,
     "stream(host, port): a view of this buffer for a stream receiving on host:port"},
    {"add", (PyCFunction)(void (*)(void))Capture_add, METH_FASTCALL,
     "add(data, host, port): a record of data received now from host:port (a view's)"},
    {"take", (PyCFunction)Capture_take, METH_NOARGS,
     "take() -> (records, count, native, dropped): what was buffered since the last take "
     "(count records, native of them added by the native read loop; dropped: not buffered "
     "because it was full), and empty the buffer"},
    {NULL},
};

static PyGetSetDef Capture_getset[] = {
    {"waiting", (getter)Capture_get_waiting, NULL, "records buffered", NULL},
    {NULL},
};

static PyTypeObject CaptureType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rtpgate.media._fastrelay.Capture",
    .tp_doc = "Capture(limit, eth): a bounded buffer of pcap records that the native read loop "
              "fills for a stream whose stage names a view of it (stream())",
    .tp_basicsize = sizeof(Capture),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Capture_init,
    .tp_dealloc = (destructor)Capture_dealloc,
    .tp_traverse = (traverseproc)Capture_traverse,
    .tp_clear = (inquiry)Capture_clear,
    .tp_methods = Capture_methods,
    .tp_getset = Capture_getset,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "rtpgate.media._fastrelay",
    .m_doc = "The relay's per-packet loop in C (recvmmsg, libsrtp, sendmmsg).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__fastrelay(void)
{
    static const char *names[WATCHED] = {
        "endpoint", "confirmed", "pipeline", "control", "fanout", "rtcp_fanout", "sink",
        "rtcp_mux", "_last_ssrc", "learned", "learning", "signalled", "endpoint", "pipeline",
        "sock"};
    for (int i = 0; i < WATCHED; i++)
        if ((watched_names[i] = PyUnicode_InternFromString(names[i])) == NULL)
            return NULL;
    if ((s_packets = PyUnicode_InternFromString("packets")) == NULL
        || (s_bytes = PyUnicode_InternFromString("bytes")) == NULL
        || (s_last_packet = PyUnicode_InternFromString("last_packet")) == NULL
        || (s_read = PyUnicode_InternFromString("read")) == NULL
        || (s_packet = PyUnicode_InternFromString("packet")) == NULL
        || (s_route = PyUnicode_InternFromString("_native_route")) == NULL
        || (s_recv_failed = PyUnicode_InternFromString("_recv_failed")) == NULL
        || (s_send_failed = PyUnicode_InternFromString("_send_failed")) == NULL
        || (s_stage_failed = PyUnicode_InternFromString("_stage_failed")) == NULL)
        return NULL;
    static const char *subscriber_attributes[S_WATCHED] = {"endpoint", "pipeline", "sock",
                                                           "context"};
    for (int i = 0; i < S_WATCHED; i++)
        if ((subscriber_names[i] = PyUnicode_InternFromString(subscriber_attributes[i])) == NULL)
            return NULL;
    for (int i = 0; i < BATCH; i++) {
        rx_iov[i].iov_base = buffers[i];
        rx_iov[i].iov_len = RECV_SIZE;
        rx[i].msg_hdr.msg_iov = &rx_iov[i];
        rx[i].msg_hdr.msg_iovlen = 1;
        rx[i].msg_hdr.msg_name = &sources[i];
        tx[i].msg_hdr.msg_iov = &tx_iov[i];
        tx[i].msg_hdr.msg_iovlen = 1;
    }
    if (PyType_Ready(&ReaderType) < 0 || PyType_Ready(&PollerType) < 0
        || PyType_Ready(&CaptureType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&ReaderType);
    if (PyModule_AddObject(m, "Reader", (PyObject *)&ReaderType) < 0) {
        Py_DECREF(&ReaderType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&PollerType);
    if (PyModule_AddObject(m, "Poller", (PyObject *)&PollerType) < 0) {
        Py_DECREF(&PollerType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&CaptureType);
    if (PyModule_AddObject(m, "Capture", (PyObject *)&CaptureType) < 0) {
        Py_DECREF(&CaptureType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "BATCH", BATCH) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
