/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cleanup.h"
#include "error.h"
#include "toml.h"
#include "util.h"
#include "banned.h"

/*
 * How a table came to exist decides what may still be done to it (TOML 1.0,
 * "Table"): an implicit table may be defined once by its own header later; a
 * table defined by a header or by dotted keys may not be defined again; dotted
 * keys may only add to tables that dotted keys created in the same section.
 */
enum table_kind {
        TABLE_ROOT,
        TABLE_IMPLICIT, /* a prefix of a header's name: [a] of [a.b] */
        TABLE_HEADER,   /* defined by its own [header] */
        TABLE_DOTTED,   /* created by a dotted key: a of a.b = 1 */
        TABLE_ELEMENT,  /* one [[header]] element */
};

struct bx_toml_entry {
        char *key; /* owned, except for items, which borrow their array's key */
        bool item; /* an array item or a [[...]] element */
        enum bx_toml_type type;
        unsigned line;
        const struct bx_toml_table *parent;
        char *str;
        int64_t num;
        bool flag;
        struct bx_toml_table *table;
        struct bx_toml_entry **items;
        size_t n_items;
        size_t alloc_items;
};

struct bx_toml_table {
        const struct bx_toml *doc;
        char *name;
        char *label;
        enum table_kind kind;
        unsigned line;
        unsigned depth;
        struct bx_toml_entry **entries; /* file order */
        size_t n;
        size_t alloc;
        struct bx_toml_entry **slots; /* open-addressing index by key, nslots a power of 2 */
        size_t nslots;
};

struct bx_toml {
        char *name;
        struct bx_toml_table *root;
};

struct parser {
        struct bx_toml *doc;
        const char *p;
        const char *end;
        unsigned line;
        struct bx_toml_table *cur;
        struct bx_error **err;
};

struct keypath {
        char *part[BX_TOML_MAX_DEPTH];
        size_t n;
};

/* At most this many bytes of a token or key are quoted in a message. */
#define SHOW_MAX 40
#define SHOW_FMT "%.*s%s"
#define SHOW(s, len)                                                                               \
        (int)((len) > SHOW_MAX ? SHOW_MAX : (len)), (s), ((len) > SHOW_MAX ? "..." : "")

static void table_free(struct bx_toml_table *t);

static void entry_free(struct bx_toml_entry *e)
{
        size_t i;

        if (!e)
                return;
        for (i = 0; i < e->n_items; i++)
                entry_free(e->items[i]);
        free(e->items);
        table_free(e->table);
        free(e->str);
        if (!e->item)
                free(e->key);
        free(e);
}

static void table_free(struct bx_toml_table *t)
{
        size_t i;

        if (!t)
                return;
        for (i = 0; i < t->n; i++)
                entry_free(t->entries[i]);
        free(t->entries);
        free(t->slots);
        free(t->name);
        free(t->label);
        free(t);
}

struct bx_toml *bx_toml_free(struct bx_toml *doc)
{
        if (!doc)
                return NULL;
        table_free(doc->root);
        free(doc->name);
        free(doc);
        return NULL;
}

static void buf_release_p(struct bx_buf *b)
{
        bx_buf_release(b);
}

static bool is_bare(unsigned char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
}

static bool is_digit(unsigned char c)
{
        return c >= '0' && c <= '9';
}

/* Control characters TOML allows nowhere but in escapes (tab is fine). */
static bool is_ctl(unsigned char c)
{
        return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* The key as TOML would write it: bare when it can be, else a basic string. */
static char *quote_key(const char *key)
{
        /* Keys come from input of at most BX_TOML_MAX_SIZE bytes: no separate limit. */
        _cleanup_(buf_release_p) struct bx_buf b = BX_BUF_INIT(0);
        const unsigned char *s;
        bool bare = *key != '\0';

        for (s = (const unsigned char *)key; *s && bare; s++)
                bare = is_bare(*s);
        if (bare)
                return bx_xstrdup(key);
        bx_buf_addch(&b, '"');
        for (s = (const unsigned char *)key; *s; s++) {
                if (*s == '"' || *s == '\\')
                        bx_buf_addf(&b, "\\%c", *s);
                else if (is_ctl(*s) || *s == '\t')
                        bx_buf_addf(&b, "\\u%04X", *s);
                else
                        bx_buf_addch(&b, (char)*s);
        }
        bx_buf_addch(&b, '"');
        return bx_buf_detach(&b, NULL);
}

static char *child_name(const struct bx_toml_table *parent, const char *key)
{
        _cleanup_free_ char *q = quote_key(key);

        if (parent->name[0] == '\0')
                return TAKE_PTR(q);
        return bx_xasprintf("%s.%s", parent->name, q);
}

static struct bx_toml_table *table_new(const struct bx_toml *doc,
                                       const struct bx_toml_table *parent, const char *key,
                                       enum table_kind kind, unsigned line)
{
        struct bx_toml_table *t = bx_xcalloc(1, sizeof(*t));

        t->doc = doc;
        t->kind = kind;
        t->line = line;
        if (!parent) {
                t->name = bx_xstrdup("");
                t->label = bx_xstrdup("the top-level table");
                return t;
        }
        t->depth = parent->depth + 1;
        t->name = child_name(parent, key);
        if (kind == TABLE_ELEMENT)
                t->label = bx_xasprintf("table [[%s]]", t->name);
        else
                t->label = bx_xasprintf("table [%s]", t->name);
        return t;
}

static struct bx_toml_entry *entry_new(const struct bx_toml_table *parent, const char *key,
                                       bool item, enum bx_toml_type type, unsigned line)
{
        struct bx_toml_entry *e = bx_xcalloc(1, sizeof(*e));

        e->key = item ? (char *)key : bx_xstrdup(key);
        e->item = item;
        e->type = type;
        e->line = line;
        e->parent = parent;
        return e;
}

static void entry_push(struct bx_toml_entry *e, struct bx_toml_entry *item)
{
        if (e->n_items == e->alloc_items) {
                e->alloc_items = e->alloc_items ? 2 * e->alloc_items : 4;
                e->items = bx_xrealloc(e->items, e->alloc_items * sizeof(*e->items));
        }
        e->items[e->n_items++] = item;
}

/* FNV-1a */
static size_t hash_key(const char *key)
{
        uint64_t h = UINT64_C(14695981039346656037);

        for (; *key; key++) {
                h ^= (unsigned char)*key;
                h *= UINT64_C(1099511628211);
        }
        return (size_t)h;
}

static struct bx_toml_entry *table_find(const struct bx_toml_table *t, const char *key)
{
        size_t mask, i;

        if (t->nslots == 0)
                return NULL;
        mask = t->nslots - 1;
        for (i = hash_key(key) & mask; t->slots[i]; i = (i + 1) & mask)
                if (strcmp(t->slots[i]->key, key) == 0)
                        return t->slots[i];
        return NULL;
}

static void slot_insert(struct bx_toml_entry **slots, size_t nslots, struct bx_toml_entry *e)
{
        size_t mask = nslots - 1, i;

        for (i = hash_key(e->key) & mask; slots[i]; i = (i + 1) & mask)
                ;
        slots[i] = e;
}

/* The table takes ownership of e.  The key must not be present yet. */
static void table_add(struct bx_toml_table *t, struct bx_toml_entry *e)
{
        size_t i;

        assert(!table_find(t, e->key));
        if (t->n == t->alloc) {
                t->alloc = t->alloc ? 2 * t->alloc : 8;
                t->entries = bx_xrealloc(t->entries, t->alloc * sizeof(*t->entries));
        }
        t->entries[t->n++] = e;
        /* A table with 100k keys is a 1 MiB file: keep lookups O(1), load <= 1/2. */
        if (2 * t->n <= t->nslots) {
                slot_insert(t->slots, t->nslots, e);
                return;
        }
        free(t->slots);
        t->nslots = t->nslots ? 2 * t->nslots : 16;
        t->slots = bx_xcalloc(t->nslots, sizeof(*t->slots));
        for (i = 0; i < t->n; i++)
                slot_insert(t->slots, t->nslots, t->entries[i]);
}

static int verror_at(const struct bx_toml *doc, unsigned line, struct bx_error **err,
                     const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static int verror_at(const struct bx_toml *doc, unsigned line, struct bx_error **err,
                     const char *fmt, va_list ap)
{
        _cleanup_free_ char *msg = bx_xvasprintf(fmt, ap);

        if (line == 0)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "%s: %s", doc->name, msg);
        return bx_error_set(err, BX_FAIL_SYSTEM, 0, "%s:%u: %s", doc->name, line, msg);
}

static int error_at(const struct bx_toml *doc, unsigned line, struct bx_error **err,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int error_at(const struct bx_toml *doc, unsigned line, struct bx_error **err,
                    const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        verror_at(doc, line, err, fmt, ap);
        va_end(ap);
        return -1;
}

static int perr_at(struct parser *ps, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr_at(struct parser *ps, unsigned line, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        verror_at(ps->doc, line, ps->err, fmt, ap);
        va_end(ap);
        return -1;
}

#define perr(ps, ...) perr_at((ps), (ps)->line, __VA_ARGS__)

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates), or 0. */
static size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
        unsigned char lo = 0x80, hi = 0xbf;
        size_t n, i;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4;
        else
                return 0;
        if (s[0] == 0xe0)
                lo = 0xa0;
        else if (s[0] == 0xed)
                hi = 0x9f;
        else if (s[0] == 0xf0)
                lo = 0x90;
        else if (s[0] == 0xf4)
                hi = 0x8f;
        if ((size_t)(end - s) < n)
                return 0;
        if (s[1] < lo || s[1] > hi)
                return 0;
        for (i = 2; i < n; i++)
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
        return n;
}

/* Code point of a valid UTF-8 sequence of length n. */
static uint32_t utf8_decode(const unsigned char *s, size_t n)
{
        uint32_t cp;
        size_t i;

        if (n == 1)
                return s[0];
        cp = s[0] & (0xff >> (n + 1));
        for (i = 1; i < n; i++)
                cp = (cp << 6) | (s[i] & 0x3f);
        return cp;
}

static void utf8_encode(struct bx_buf *b, uint32_t cp)
{
        char u[4];
        size_t n;

        if (cp < 0x80) {
                u[0] = (char)cp;
                n = 1;
        } else if (cp < 0x800) {
                u[0] = (char)(0xc0 | (cp >> 6));
                u[1] = (char)(0x80 | (cp & 0x3f));
                n = 2;
        } else if (cp < 0x10000) {
                u[0] = (char)(0xe0 | (cp >> 12));
                u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                u[2] = (char)(0x80 | (cp & 0x3f));
                n = 3;
        } else {
                u[0] = (char)(0xf0 | (cp >> 18));
                u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
                u[3] = (char)(0x80 | (cp & 0x3f));
                n = 4;
        }
        bx_buf_add(b, u, n);
}

/*
 * Validate the whole input before parsing, so every later step can rely on
 * UTF-8 and C strings, and the line of the first bad byte is exact.
 */
static int check_bytes(struct parser *ps)
{
        const unsigned char *s = (const unsigned char *)ps->p;
        const unsigned char *end = (const unsigned char *)ps->end;
        unsigned line = 1;

        while (s < end) {
                size_t n;

                if (*s == '\n') {
                        line++;
                        s++;
                        continue;
                }
                if (*s == '\0')
                        return perr_at(ps, line, "NUL byte");
                n = utf8_len(s, end);
                if (n == 0)
                        return perr_at(ps, line, "invalid UTF-8");
                s += n;
        }
        return 0;
}

/* "end of file", "end of line", "'x'" or "U+00E9" for the character at ps->p. */
static const char *describe(const struct parser *ps, char buf[static 16])
{
        const unsigned char *s = (const unsigned char *)ps->p;

        if (ps->p >= ps->end)
                return "end of file";
        if (*s == '\n' || (*s == '\r' && ps->p + 1 < ps->end && s[1] == '\n'))
                return "end of line";
        if (*s >= 0x20 && *s < 0x7f)
                snprintf(buf, 16, "'%c'", *s);
        else
                snprintf(buf, 16, "U+%04X",
                         (unsigned)utf8_decode(s, utf8_len(s, (const unsigned char *)ps->end)));
        return buf;
}

static int peek(const struct parser *ps)
{
        return ps->p < ps->end ? (unsigned char)*ps->p : -1;
}

/* 1 for LF, 2 for CRLF at ps->p, else 0. */
static size_t newline_len(const struct parser *ps)
{
        if (ps->p < ps->end && *ps->p == '\n')
                return 1;
        if (ps->p + 1 < ps->end && ps->p[0] == '\r' && ps->p[1] == '\n')
                return 2;
        return 0;
}

static void skip_ws(struct parser *ps)
{
        while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
                ps->p++;
}

/* Skip a comment up to (not including) the end of its line. */
static int skip_comment(struct parser *ps)
{
        if (peek(ps) != '#')
                return 0;
        for (ps->p++; ps->p < ps->end && !newline_len(ps); ps->p++)
                if (is_ctl((unsigned char)*ps->p))
                        return perr(ps, "control character U+%04X in a comment",
                                    (unsigned char)*ps->p);
        return 0;
}

/* Whitespace, comments and newlines, as between array items. */
static int skip_blank(struct parser *ps)
{
        for (;;) {
                size_t n;

                skip_ws(ps);
                if (skip_comment(ps) < 0)
                        return -1;
                n = newline_len(ps);
                if (n == 0)
                        return 0;
                ps->p += n;
                ps->line++;
        }
}

/* After a key/value or a header: optional whitespace and comment, then a newline or the end. */
static int end_of_line(struct parser *ps, const char *after)
{
        char c[16];
        size_t n;

        skip_ws(ps);
        if (skip_comment(ps) < 0)
                return -1;
        if (ps->p >= ps->end)
                return 0;
        n = newline_len(ps);
        if (n == 0)
                return perr(ps, "expected end of line after %s, found %s", after, describe(ps, c));
        ps->p += n;
        ps->line++;
        return 0;
}

static int hex_value(unsigned char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* ps->p at a backslash in a basic string; multiline allows the line-ending backslash. */
static int parse_escape(struct parser *ps, struct bx_buf *b, bool multiline)
{
        const char *start = ps->p;
        uint32_t cp = 0;
        size_t ndigits, i;
        char c[16];

        ps->p++;
        switch (peek(ps)) {
        case 'b':
                bx_buf_addch(b, '\b');
                break;
        case 't':
                bx_buf_addch(b, '\t');
                break;
        case 'n':
                bx_buf_addch(b, '\n');
                break;
        case 'f':
                bx_buf_addch(b, '\f');
                break;
        case 'r':
                bx_buf_addch(b, '\r');
                break;
        case '"':
                bx_buf_addch(b, '"');
                break;
        case '\\':
                bx_buf_addch(b, '\\');
                break;
        case 'u':
        case 'U':
                ndigits = *ps->p == 'u' ? 4 : 8;
                for (i = 0; i < ndigits; i++) {
                        int h =
                            ps->p + 1 + i < ps->end ? hex_value((unsigned char)ps->p[1 + i]) : -1;

                        if (h < 0)
                                return perr(ps,
                                            "invalid escape '" SHOW_FMT "', \\%c needs %zu hex "
                                            "digits",
                                            SHOW(start, (size_t)(ps->p + 1 + i - start)), *ps->p,
                                            ndigits);
                        cp = cp << 4 | (uint32_t)h;
                }
                ps->p += ndigits;
                if (cp == 0)
                        return perr(ps, "escape '%.*s' is not allowed: strings cannot contain NUL",
                                    (int)(ps->p + 1 - start), start);
                if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return perr(ps, "escape '%.*s' is not a Unicode scalar value",
                                    (int)(ps->p + 1 - start), start);
                utf8_encode(b, cp);
                break;
        case ' ':
        case '\t':
        case '\n':
        case '\r':
                /* A line-ending backslash eats all whitespace and newlines after it. */
                if (!multiline)
                        goto invalid;
                skip_ws(ps);
                if (!newline_len(ps))
                        goto invalid;
                while (ps->p < ps->end) {
                        size_t n = newline_len(ps);

                        if (n) {
                                ps->p += n;
                                ps->line++;
                        } else if (*ps->p == ' ' || *ps->p == '\t') {
                                ps->p++;
                        } else {
                                break;
                        }
                }
                return 0;
        case -1:
                return perr(ps, "unterminated string at end of file");
        default:
                goto invalid;
        }
        ps->p++;
        return 0;

invalid:
        ps->p = start + 1;
        if (peek(ps) >= 0x20 && peek(ps) < 0x7f)
                return perr(ps, "invalid escape '\\%c' in string", *ps->p);
        return perr(ps, "invalid escape in string: backslash followed by %s", describe(ps, c));
}

/*
 * ps->p at the opening quote of a one-line "basic" or 'literal' string.  A
 * value is never longer than its input (escapes only shrink), so appends to
 * the buffer cannot hit its limit.
 */
static int parse_string(struct parser *ps, char **ret)
{
        _cleanup_(buf_release_p) struct bx_buf b = BX_BUF_INIT(BX_TOML_MAX_SIZE);
        char q = *ps->p;

        for (ps->p++;;) {
                const char *run = ps->p;
                unsigned char c;

                while (ps->p < ps->end && *ps->p != q && (*ps->p != '\\' || q == '\'') &&
                       !is_ctl((unsigned char)*ps->p))
                        ps->p++;
                bx_buf_add(&b, run, (size_t)(ps->p - run));
                if (ps->p >= ps->end)
                        return perr(ps, "unterminated string at end of file");
                c = (unsigned char)*ps->p;
                if (c == (unsigned char)q) {
                        ps->p++;
                        break;
                }
                if (c == '\\') {
                        if (parse_escape(ps, &b, false) < 0)
                                return -1;
                } else if (c == '\n' || newline_len(ps)) {
                        return perr(ps, "unterminated string at end of line (a newline in a "
                                        "string is written \\n)");
                } else {
                        return perr(ps, "control character U+%04X in a string, use an escape", c);
                }
        }
        *ret = bx_buf_detach(&b, NULL);
        return 0;
}

/* ps->p at the opening """ or '''. */
static int parse_multiline_string(struct parser *ps, char **ret)
{
        _cleanup_(buf_release_p) struct bx_buf b = BX_BUF_INIT(BX_TOML_MAX_SIZE);
        unsigned start_line = ps->line;
        char q = *ps->p;
        size_t n;

        ps->p += 3;
        /* A newline right after the opening delimiter is trimmed. */
        n = newline_len(ps);
        if (n) {
                ps->p += n;
                ps->line++;
        }
        for (;;) {
                const char *run = ps->p;
                unsigned char c;

                while (ps->p < ps->end && *ps->p != q && (*ps->p != '\\' || q == '\'') &&
                       !is_ctl((unsigned char)*ps->p))
                        ps->p++;
                bx_buf_add(&b, run, (size_t)(ps->p - run));
                if (ps->p >= ps->end)
                        return perr_at(ps, start_line, "unterminated multi-line string");
                c = (unsigned char)*ps->p;
                if (c == (unsigned char)q) {
                        const char *s = ps->p;

                        while (ps->p < ps->end && *ps->p == q)
                                ps->p++;
                        n = (size_t)(ps->p - s);
                        if (n < 3) {
                                bx_buf_add(&b, s, n);
                                continue;
                        }
                        /* Up to two quotes may sit right before the closing three. */
                        if (n > 5)
                                return perr(ps, "too many quotes at the end of a multi-line "
                                                "string");
                        bx_buf_add(&b, s, n - 3);
                        break;
                }
                n = newline_len(ps);
                if (n) {
                        /* CRLF becomes LF, as on every platform. */
                        bx_buf_addch(&b, '\n');
                        ps->p += n;
                        ps->line++;
                } else if (c == '\\') {
                        if (parse_escape(ps, &b, true) < 0)
                                return -1;
                } else {
                        return perr(ps, "control character U+%04X in a string, use an escape", c);
                }
        }
        *ret = bx_buf_detach(&b, NULL);
        return 0;
}

/* One part of a key: bare, "basic" or 'literal'.  `what` is "a key" or "a table name". */
static int parse_simple_key(struct parser *ps, const char *what, char **ret)
{
        const char *s = ps->p;
        char c[16];
        int ch;

        if (peek(ps) == '"' || peek(ps) == '\'') {
                _cleanup_free_ char *key = NULL;

                if (parse_string(ps, &key) < 0)
                        return -1;
                /* Keys make table names; bounded keys keep names and messages sane. */
                if (strlen(key) > BX_TOML_MAX_KEY)
                        return perr(ps, "keys longer than %d bytes are not supported",
                                    BX_TOML_MAX_KEY);
                *ret = TAKE_PTR(key);
                return 0;
        }
        while (ps->p < ps->end && is_bare((unsigned char)*ps->p))
                ps->p++;
        if (ps->p == s)
                return perr(ps, "expected %s, found %s", what, describe(ps, c));
        ch = peek(ps);
        if (ch != -1 && ch != ' ' && ch != '\t' && ch != '.' && ch != '=' && ch != ']' &&
            !newline_len(ps))
                return perr(ps,
                            "invalid character %s in bare key '" SHOW_FMT "' (bare keys "
                            "may use A-Z a-z 0-9 _ -, quote other keys)",
                            describe(ps, c), SHOW(s, (size_t)(ps->p - s)));
        if ((size_t)(ps->p - s) > BX_TOML_MAX_KEY)
                return perr(ps, "keys longer than %d bytes are not supported", BX_TOML_MAX_KEY);
        *ret = bx_xstrndup(s, (size_t)(ps->p - s));
        return 0;
}

static void keypath_release(struct keypath *kp)
{
        size_t i;

        for (i = 0; i < kp->n; i++)
                free(kp->part[i]);
        kp->n = 0;
}

/* a, a.b, "a".'b' . c: whitespace is allowed around the dots. */
static int parse_key(struct parser *ps, const char *what, struct keypath *kp)
{
        for (;;) {
                skip_ws(ps);
                if (kp->n == BX_TOML_MAX_DEPTH)
                        return perr(ps,
                                    "keys and table names of more than %d parts are not "
                                    "supported",
                                    BX_TOML_MAX_DEPTH);
                if (parse_simple_key(ps, what, &kp->part[kp->n]) < 0)
                        return -1;
                kp->n++;
                skip_ws(ps);
                if (peek(ps) != '.')
                        return 0;
                ps->p++;
        }
}

/* Tables are freed recursively and named by their full path: bound the nesting. */
static int check_depth(struct parser *ps, const struct bx_toml_table *parent)
{
        if (parent->depth + 1 > BX_TOML_MAX_DEPTH)
                return perr(ps, "tables nested more than %d levels deep are not supported",
                            BX_TOML_MAX_DEPTH);
        return 0;
}

static struct bx_toml_entry *add_table(struct parser *ps, struct bx_toml_table *parent,
                                       const char *key, enum table_kind kind, unsigned line)
{
        struct bx_toml_entry *e = entry_new(parent, key, false, BX_TOML_TABLE, line);

        e->table = table_new(ps->doc, parent, key, kind, line);
        table_add(parent, e);
        return e;
}

static struct bx_toml_table *add_element(struct parser *ps, struct bx_toml_table *parent,
                                         struct bx_toml_entry *array, unsigned line)
{
        struct bx_toml_entry *e = entry_new(parent, array->key, true, BX_TOML_TABLE, line);

        e->table = table_new(ps->doc, parent, array->key, TABLE_ELEMENT, line);
        entry_push(array, e);
        return e->table;
}

/* The message for a key that is a value where a table is needed. */
static int not_a_table(struct parser *ps, const char *what, const struct bx_toml_table *t,
                       const struct bx_toml_entry *e)
{
        return perr(ps, "cannot define %s: key '" SHOW_FMT "' in %s is already %s, set on line %u",
                    what, SHOW(e->key, strlen(e->key)), t->label, bx_toml_type_name(e->type),
                    e->line);
}

/* The dotted name of a header, quoted as TOML writes it. */
static char *keypath_name(const struct keypath *kp)
{
        /* Bounded by the input size: no separate limit. */
        _cleanup_(buf_release_p) struct bx_buf b = BX_BUF_INIT(0);
        size_t i;

        for (i = 0; i < kp->n; i++) {
                _cleanup_free_ char *q = quote_key(kp->part[i]);

                if (i > 0)
                        bx_buf_addch(&b, '.');
                bx_buf_adds(&b, q);
        }
        return bx_buf_detach(&b, NULL);
}

/* [a.b.c] and [[a.b.c]]: ps->p at the first '['. */
static int parse_header(struct parser *ps)
{
        _cleanup_free_ char *name = NULL, *what = NULL;
        struct keypath kp = {.n = 0};
        struct bx_toml_table *t = ps->doc->root;
        struct bx_toml_entry *e;
        unsigned line = ps->line;
        const char *last;
        bool array;
        char c[16];
        size_t i;
        int r = -1;

        ps->p++;
        array = peek(ps) == '[';
        if (array)
                ps->p++;
        if (parse_key(ps, "a table name", &kp) < 0)
                goto out;
        if (peek(ps) != ']' || (array && (ps->p + 1 >= ps->end || ps->p[1] != ']'))) {
                if (array && peek(ps) == ']')
                        ps->p++;
                perr(ps, "expected '%s' after the table name, found %s", array ? "]]" : "]",
                     describe(ps, c));
                goto out;
        }
        ps->p += array ? 2 : 1;
        name = keypath_name(&kp);
        what = bx_xasprintf(array ? "array of tables [[%s]]" : "table [%s]", name);

        for (i = 0; i + 1 < kp.n; i++) {
                e = table_find(t, kp.part[i]);
                if (!e) {
                        if (check_depth(ps, t) < 0)
                                goto out;
                        e = add_table(ps, t, kp.part[i], TABLE_IMPLICIT, line);
                }
                if (e->type == BX_TOML_TABLE) {
                        t = e->table;
                } else if (e->type == BX_TOML_TABLE_ARRAY) {
                        /* [a.b] after [[a]] belongs to the last element of a. */
                        t = e->items[e->n_items - 1]->table;
                } else {
                        not_a_table(ps, what, t, e);
                        goto out;
                }
        }

        last = kp.part[kp.n - 1];
        e = table_find(t, last);
        if (!e) {
                if (check_depth(ps, t) < 0)
                        goto out;
                if (array) {
                        e = entry_new(t, last, false, BX_TOML_TABLE_ARRAY, line);
                        table_add(t, e);
                        ps->cur = add_element(ps, t, e, line);
                } else {
                        ps->cur = add_table(ps, t, last, TABLE_HEADER, line)->table;
                }
        } else if (e->type == BX_TOML_TABLE_ARRAY && array) {
                ps->cur = add_element(ps, t, e, line);
        } else if (e->type == BX_TOML_TABLE_ARRAY) {
                perr(ps, "cannot define %s: it is already an array of tables, first on line %u",
                     what, e->line);
                goto out;
        } else if (e->type != BX_TOML_TABLE) {
                not_a_table(ps, what, t, e);
                goto out;
        } else if (array) {
                perr(ps, "cannot define %s: %s is already a table, defined on line %u", what,
                     e->table->label, e->table->line);
                goto out;
        } else if (e->table->kind == TABLE_IMPLICIT) {
                e->table->kind = TABLE_HEADER;
                e->table->line = line;
                e->line = line;
                ps->cur = e->table;
        } else if (e->table->kind == TABLE_DOTTED) {
                perr(ps, "cannot define %s: it is already defined by dotted keys on line %u", what,
                     e->table->line);
                goto out;
        } else {
                perr(ps, "%s is defined twice, first on line %u", what, e->table->line);
                goto out;
        }
        r = end_of_line(ps, "the table header");
out:
        keypath_release(&kp);
        return r;
}

/* An integer, or a precise message for the number syntaxes we do not take. */
static int parse_number(struct parser *ps, struct bx_toml_entry *e)
{
        const char *s = ps->p, *d;
        uint64_t limit, acc = 0;
        bool neg = false, floaty = true, prev_digit = false;
        size_t len, i;

        while (ps->p < ps->end &&
               (is_bare((unsigned char)*ps->p) || *ps->p == '+' || *ps->p == '.' || *ps->p == ':'))
                ps->p++;
        len = (size_t)(ps->p - s);
        d = s;
        if (*d == '+' || *d == '-') {
                neg = *d == '-';
                d++;
        }
        if ((size_t)(s + len - d) == 3 && (memcmp(d, "inf", 3) == 0 || memcmp(d, "nan", 3) == 0))
                return perr(ps, "floats are not supported, found '" SHOW_FMT "'", SHOW(s, len));
        if (d + 1 < s + len && d[0] == '0' && (d[1] == 'x' || d[1] == 'o' || d[1] == 'b'))
                return perr(ps, "%s integers are not supported, write '" SHOW_FMT "' in decimal",
                            d[1] == 'x'   ? "hexadecimal"
                            : d[1] == 'o' ? "octal"
                                          : "binary",
                            SHOW(s, len));
        if ((len >= 5 && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) && is_digit(s[3]) &&
             s[4] == '-') ||
            (len >= 3 && is_digit(s[0]) && is_digit(s[1]) && s[2] == ':'))
                return perr(ps, "dates and times are not supported, found '" SHOW_FMT "'",
                            SHOW(s, len));
        for (i = 0; i < len; i++)
                if (!is_digit((unsigned char)s[i]) && !strchr("_+-.eE", s[i]))
                        floaty = false;
        if (floaty && (memchr(s, '.', len) || memchr(s, 'e', len) || memchr(s, 'E', len)))
                return perr(ps, "floats are not supported, found '" SHOW_FMT "'", SHOW(s, len));

        if (d == s + len)
                return perr(ps, "invalid integer '" SHOW_FMT "'", SHOW(s, len));
        if (d[0] == '0' && d + 1 < s + len && (is_digit((unsigned char)d[1]) || d[1] == '_'))
                return perr(ps, "leading zeros are not allowed in integer '" SHOW_FMT "'",
                            SHOW(s, len));
        limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        for (; d < s + len; d++) {
                if (is_digit((unsigned char)*d)) {
                        unsigned digit = (unsigned)(*d - '0');

                        if (acc > (limit - digit) / 10)
                                return perr(ps,
                                            "integer '" SHOW_FMT "' is out of range "
                                            "(64-bit signed)",
                                            SHOW(s, len));
                        acc = acc * 10 + digit;
                        prev_digit = true;
                } else if (*d == '_' && prev_digit && d + 1 < s + len &&
                           is_digit((unsigned char)d[1])) {
                        prev_digit = false;
                } else {
                        return perr(ps, "invalid integer '" SHOW_FMT "'", SHOW(s, len));
                }
        }
        e->type = BX_TOML_INT;
        if (neg)
                e->num = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
        else
                e->num = (int64_t)acc;
        return 0;
}

/* true, false, and helpful messages for unquoted words. */
static int parse_word(struct parser *ps, struct bx_toml_entry *e)
{
        const char *s = ps->p;
        size_t len;

        while (ps->p < ps->end && (is_bare((unsigned char)*ps->p) || *ps->p == '.'))
                ps->p++;
        len = (size_t)(ps->p - s);
        if (len == 4 && memcmp(s, "true", 4) == 0) {
                e->type = BX_TOML_BOOL;
                e->flag = true;
                return 0;
        }
        if (len == 5 && memcmp(s, "false", 5) == 0) {
                e->type = BX_TOML_BOOL;
                e->flag = false;
                return 0;
        }
        if (len == 3 && (memcmp(s, "inf", 3) == 0 || memcmp(s, "nan", 3) == 0))
                return perr(ps, "floats are not supported, found '%.3s'", s);
        return perr(ps,
                    "invalid value '" SHOW_FMT "' (strings must be quoted, booleans are "
                    "true or false)",
                    SHOW(s, len));
}

static int parse_value(struct parser *ps, struct bx_toml_entry *e, bool in_array);

/* [ items, ... ]: ps->p at '['. */
static int parse_array(struct parser *ps, struct bx_toml_entry *e)
{
        unsigned open_line = ps->line;
        char c[16];

        e->type = BX_TOML_ARRAY;
        ps->p++;
        for (;;) {
                struct bx_toml_entry *item;

                if (skip_blank(ps) < 0)
                        return -1;
                if (peek(ps) == ']')
                        break;
                if (ps->p >= ps->end)
                        return perr_at(ps, open_line, "unterminated array");
                item = entry_new(e->parent, e->key, true, BX_TOML_STRING, ps->line);
                entry_push(e, item);
                if (parse_value(ps, item, true) < 0)
                        return -1;
                if (item->type != e->items[0]->type)
                        return perr_at(ps, item->line,
                                       "mixed types in array '" SHOW_FMT "': "
                                       "%s after %s",
                                       SHOW(e->key, strlen(e->key)), bx_toml_type_name(item->type),
                                       bx_toml_type_name(e->items[0]->type));
                if (skip_blank(ps) < 0)
                        return -1;
                if (peek(ps) == ']')
                        break;
                if (ps->p >= ps->end)
                        return perr_at(ps, open_line, "unterminated array");
                if (peek(ps) != ',')
                        return perr(ps, "expected ',' or ']' in array, found %s", describe(ps, c));
                ps->p++;
        }
        ps->p++;
        return 0;
}

static int parse_value(struct parser *ps, struct bx_toml_entry *e, bool in_array)
{
        int ch = peek(ps);
        char c[16];

        if (ch == '"' || ch == '\'') {
                bool multi = ps->p + 2 < ps->end && ps->p[1] == ch && ps->p[2] == ch;

                e->type = BX_TOML_STRING;
                return multi ? parse_multiline_string(ps, &e->str) : parse_string(ps, &e->str);
        }
        if (ch == '[') {
                if (in_array)
                        return perr(ps, "nested arrays are not supported");
                return parse_array(ps, e);
        }
        if (ch == '{')
                return perr(ps, "inline tables are not supported in buildx-executor settings, "
                                "use a [table]");
        if (ch == '+' || ch == '-' || (ch >= 0 && is_digit((unsigned char)ch)))
                return parse_number(ps, e);
        if (ch >= 0 && is_bare((unsigned char)ch))
                return parse_word(ps, e);
        return perr(ps, "expected a value, found %s", describe(ps, c));
}

/*
 * Walk (or create) the table of one dotted-key part.  TOML forbids dotted
 * keys from adding to tables that a header defined, or that are prefixes of
 * a header (toml-lang/toml#846): only tables made by dotted keys qualify.
 */
static int dotted_table(struct parser *ps, struct bx_toml_table **t, const char *key)
{
        struct bx_toml_entry *e = table_find(*t, key);

        if (!e) {
                if (check_depth(ps, *t) < 0)
                        return -1;
                *t = add_table(ps, *t, key, TABLE_DOTTED, ps->line)->table;
                return 0;
        }
        if (e->type == BX_TOML_TABLE && e->table->kind == TABLE_DOTTED) {
                *t = e->table;
                return 0;
        }
        if (e->type == BX_TOML_TABLE)
                return perr(ps, "dotted keys cannot add to %s, defined on line %u", e->table->label,
                            e->table->line);
        if (e->type == BX_TOML_TABLE_ARRAY)
                return perr(ps, "dotted keys cannot add to the array of tables [[%s]] of line %u",
                            e->items[0]->table->name, e->line);
        return perr(ps, "key '" SHOW_FMT "' in %s is already %s, set on line %u, not a table",
                    SHOW(key, strlen(key)), (*t)->label, bx_toml_type_name(e->type), e->line);
}

static int parse_keyval(struct parser *ps)
{
        struct keypath kp = {.n = 0};
        struct bx_toml_table *t = ps->cur;
        struct bx_toml_entry *e;
        const char *key;
        char c[16];
        size_t i;
        int r = -1;

        if (parse_key(ps, "a key", &kp) < 0)
                goto out;
        if (peek(ps) != '=') {
                perr(ps, "expected '=' after key '" SHOW_FMT "', found %s",
                     SHOW(kp.part[kp.n - 1], strlen(kp.part[kp.n - 1])), describe(ps, c));
                goto out;
        }
        ps->p++;
        skip_ws(ps);
        for (i = 0; i + 1 < kp.n; i++)
                if (dotted_table(ps, &t, kp.part[i]) < 0)
                        goto out;
        key = kp.part[kp.n - 1];
        e = table_find(t, key);
        if (e && (e->type == BX_TOML_TABLE || e->type == BX_TOML_TABLE_ARRAY)) {
                perr(ps, "key '" SHOW_FMT "' in %s is already %s, defined on line %u",
                     SHOW(key, strlen(key)), t->label, bx_toml_type_name(e->type), e->line);
                goto out;
        }
        if (e) {
                perr(ps, "duplicate key '" SHOW_FMT "' in %s, first set on line %u",
                     SHOW(key, strlen(key)), t->label, e->line);
                goto out;
        }
        e = entry_new(t, key, false, BX_TOML_STRING, ps->line);
        if (parse_value(ps, e, false) < 0) {
                entry_free(e);
                goto out;
        }
        table_add(t, e);
        r = end_of_line(ps, "the value");
out:
        keypath_release(&kp);
        return r;
}

static int parse_document(struct parser *ps)
{
        while (ps->p < ps->end) {
                int r;

                skip_ws(ps);
                if (ps->p >= ps->end || peek(ps) == '#' || newline_len(ps))
                        r = end_of_line(ps, "a comment");
                else if (peek(ps) == '[')
                        r = parse_header(ps);
                else
                        r = parse_keyval(ps);
                if (r < 0)
                        return r;
        }
        return 0;
}

int bx_toml_parse_string(const char *name, const char *text, size_t len, struct bx_toml **ret,
                         struct bx_error **err)
{
        _cleanup_toml_ struct bx_toml *doc = NULL;
        struct parser ps;

        assert(name);
        assert(text || len == 0);
        doc = bx_xcalloc(1, sizeof(*doc));
        doc->name = bx_xstrdup(name);
        doc->root = table_new(doc, NULL, NULL, TABLE_ROOT, 0);
        if (len > BX_TOML_MAX_SIZE)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "%s: larger than %d bytes (1 MiB)",
                                    name, BX_TOML_MAX_SIZE);
        if (!text)
                text = "";
        ps = (struct parser){
            .doc = doc,
            .p = text,
            .end = text + len,
            .line = 1,
            .cur = doc->root,
            .err = err,
        };
        if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
                ps.p += 3;
        if (check_bytes(&ps) < 0 || parse_document(&ps) < 0)
                return -1;
        *ret = TAKE_PTR(doc);
        return 0;
}

int bx_toml_parse_file(const char *path, struct bx_toml **ret, struct bx_error **err)
{
        _cleanup_free_ char *data = NULL;
        size_t len;

        if (bx_read_file(path, BX_TOML_MAX_SIZE, &data, &len, err) < 0)
                return -1;
        return bx_toml_parse_string(path, data, len, ret, err);
}

const char *bx_toml_name(const struct bx_toml *doc)
{
        return doc->name;
}

const struct bx_toml_table *bx_toml_root(const struct bx_toml *doc)
{
        return doc->root;
}

const char *bx_toml_table_name(const struct bx_toml_table *t)
{
        return t->name;
}

const char *bx_toml_table_label(const struct bx_toml_table *t)
{
        return t->label;
}

unsigned bx_toml_table_line(const struct bx_toml_table *t)
{
        return t->line;
}

size_t bx_toml_table_size(const struct bx_toml_table *t)
{
        return t->n;
}

const struct bx_toml_entry *bx_toml_table_at(const struct bx_toml_table *t, size_t i)
{
        assert(i < t->n);
        return t->entries[i];
}

const struct bx_toml_entry *bx_toml_table_get(const struct bx_toml_table *t, const char *key)
{
        return table_find(t, key);
}

const char *bx_toml_entry_key(const struct bx_toml_entry *e)
{
        return e->key;
}

enum bx_toml_type bx_toml_entry_type(const struct bx_toml_entry *e)
{
        return e->type;
}

unsigned bx_toml_entry_line(const struct bx_toml_entry *e)
{
        return e->line;
}

const char *bx_toml_entry_string(const struct bx_toml_entry *e)
{
        assert(e->type == BX_TOML_STRING);
        return e->str;
}

int64_t bx_toml_entry_int(const struct bx_toml_entry *e)
{
        assert(e->type == BX_TOML_INT);
        return e->num;
}

bool bx_toml_entry_bool(const struct bx_toml_entry *e)
{
        assert(e->type == BX_TOML_BOOL);
        return e->flag;
}

const struct bx_toml_table *bx_toml_entry_table(const struct bx_toml_entry *e)
{
        assert(e->type == BX_TOML_TABLE);
        return e->table;
}

size_t bx_toml_entry_size(const struct bx_toml_entry *e)
{
        assert(e->type == BX_TOML_ARRAY || e->type == BX_TOML_TABLE_ARRAY);
        return e->n_items;
}

const struct bx_toml_entry *bx_toml_entry_at(const struct bx_toml_entry *e, size_t i)
{
        assert(e->type == BX_TOML_ARRAY || e->type == BX_TOML_TABLE_ARRAY);
        assert(i < e->n_items);
        return e->items[i];
}

const char *bx_toml_type_name(enum bx_toml_type type)
{
        switch (type) {
        case BX_TOML_STRING:
                return "a string";
        case BX_TOML_INT:
                return "an integer";
        case BX_TOML_BOOL:
                return "a boolean";
        case BX_TOML_ARRAY:
                return "an array";
        case BX_TOML_TABLE:
                return "a table";
        case BX_TOML_TABLE_ARRAY:
                return "an array of tables";
        }
        return "an unknown type";
}

/* "strings" for the items of an array in messages. */
static const char *type_plural(enum bx_toml_type type)
{
        switch (type) {
        case BX_TOML_STRING:
                return "strings";
        case BX_TOML_INT:
                return "integers";
        case BX_TOML_BOOL:
                return "booleans";
        default:
                return "values";
        }
}

/* 1: absent, 0: *ret is the entry of the right type, -1: wrong type. */
static int get_typed(const struct bx_toml_table *t, const char *key, enum bx_toml_type type,
                     const struct bx_toml_entry **ret, struct bx_error **err)
{
        const struct bx_toml_entry *e = table_find(t, key);

        if (!e)
                return 1;
        if (e->type != type)
                return error_at(t->doc, e->line, err, "key '%s' in %s must be %s, not %s", key,
                                t->label, bx_toml_type_name(type), bx_toml_type_name(e->type));
        *ret = e;
        return 0;
}

int bx_toml_get_string(const struct bx_toml_table *t, const char *key, const char **ret,
                       struct bx_error **err)
{
        const struct bx_toml_entry *e = NULL;
        int r = get_typed(t, key, BX_TOML_STRING, &e, err);

        if (r == 0)
                *ret = e->str;
        return r;
}

int bx_toml_get_int(const struct bx_toml_table *t, const char *key, int64_t *ret,
                    struct bx_error **err)
{
        const struct bx_toml_entry *e = NULL;
        int r = get_typed(t, key, BX_TOML_INT, &e, err);

        if (r == 0)
                *ret = e->num;
        return r;
}

int bx_toml_get_bool(const struct bx_toml_table *t, const char *key, bool *ret,
                     struct bx_error **err)
{
        const struct bx_toml_entry *e = NULL;
        int r = get_typed(t, key, BX_TOML_BOOL, &e, err);

        if (r == 0)
                *ret = e->flag;
        return r;
}

int bx_toml_get_table(const struct bx_toml_table *t, const char *key,
                      const struct bx_toml_table **ret, struct bx_error **err)
{
        const struct bx_toml_entry *e = NULL;
        int r = get_typed(t, key, BX_TOML_TABLE, &e, err);

        if (r == 0)
                *ret = e->table;
        return r;
}

int bx_toml_get_array(const struct bx_toml_table *t, const char *key, enum bx_toml_type item_type,
                      const struct bx_toml_entry **ret, struct bx_error **err)
{
        const struct bx_toml_entry *e = table_find(t, key);

        assert(item_type == BX_TOML_STRING || item_type == BX_TOML_INT ||
               item_type == BX_TOML_BOOL);
        if (!e)
                return 1;
        /* The parser made arrays homogeneous: the first item speaks for all. */
        if (e->type != BX_TOML_ARRAY || (e->n_items > 0 && e->items[0]->type != item_type))
                return error_at(t->doc, e->line, err,
                                "key '%s' in %s must be an array of %s, "
                                "not %s%s",
                                key, t->label, type_plural(item_type),
                                e->type == BX_TOML_ARRAY ? "an array of " : "",
                                e->type == BX_TOML_ARRAY ? type_plural(e->items[0]->type)
                                                         : bx_toml_type_name(e->type));
        *ret = e;
        return 0;
}

int bx_toml_get_table_array(const struct bx_toml_table *t, const char *key,
                            const struct bx_toml_entry **ret, struct bx_error **err)
{
        return get_typed(t, key, BX_TOML_TABLE_ARRAY, ret, err);
}

int bx_toml_entry_error(const struct bx_toml_entry *e, struct bx_error **err, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        verror_at(e->parent->doc, e->line, err, fmt, ap);
        va_end(ap);
        return -1;
}

int bx_toml_table_error(const struct bx_toml_table *t, struct bx_error **err, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        verror_at(t->doc, t->line, err, fmt, ap);
        va_end(ap);
        return -1;
}
