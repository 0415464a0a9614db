/* SPDX-License-Identifier: MIT */
#ifndef BX_TOML_H
#define BX_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bx_error;

/*
 * A strict reader for the TOML subset of the driver's settings file.
 *
 * Supported: [tables], [dotted.table."quoted:name"], [[arrays.of.tables]],
 * bare keys (A-Za-z0-9_-), "basic" and 'literal' quoted keys, dotted keys
 * (a.b = 1), and the values
 *   - strings: "basic" (escapes \b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX),
 *     'literal', and the multi-line forms """...""" and '''...''';
 *   - integers: decimal, optional sign, `_` between digits, 64-bit signed;
 *   - booleans: true, false;
 *   - arrays of strings, integers or booleans, one type per array, over
 *     several lines with comments and a trailing comma.
 * Rejected with a message saying so: floats, inf/nan, dates and times, hex,
 * octal and binary integers, inline tables, nested arrays, arrays of mixed
 * types, the escape \u0000 (values are C strings), tables nested deeper than
 * BX_TOML_MAX_DEPTH, keys longer than BX_TOML_MAX_KEY, and input larger than
 * BX_TOML_MAX_SIZE.
 * TOML's rules are enforced: no duplicate keys, no table defined twice, no key
 * that is both a value and a table, no dotted keys adding to a table that a
 * header defined or named (toml-lang/toml#846), valid UTF-8, no NUL and no
 * control characters outside escapes.
 * A leading UTF-8 byte order mark is skipped.
 *
 * Every error is a BX_FAIL_SYSTEM bx_error whose message is
 * "<name>:<line>: what is wrong", e.g. "/etc/buildx-executor/config.toml:12:
 * duplicate key 'image' in table [builder], first set on line 4".
 *
 * Ownership: struct bx_toml owns everything.  Tables, entries and strings
 * obtained from it are borrowed views that stay valid until bx_toml_free().
 * Nothing here keeps global state; a document may be read from several
 * threads once parsed.
 */

#define BX_TOML_MAX_SIZE (1024 * 1024) /* bytes of input */
#define BX_TOML_MAX_DEPTH 32           /* levels of table nesting, and parts of one key */
#define BX_TOML_MAX_KEY 1024           /* bytes of one key (part) */

struct bx_toml;       /* a parsed document (opaque, owns everything) */
struct bx_toml_table; /* a table: the root, a [table], a dotted-key table or one [[element]] */
struct bx_toml_entry; /* one key = value of a table, or one item of an array */

enum bx_toml_type {
        BX_TOML_STRING,
        BX_TOML_INT,
        BX_TOML_BOOL,
        BX_TOML_ARRAY,       /* key = [ ... ]: items are STRING, INT or BOOL entries */
        BX_TOML_TABLE,       /* [key] or key.sub = ...: see bx_toml_entry_table() */
        BX_TOML_TABLE_ARRAY, /* [[key]]: items are TABLE entries, one per [[key]] header */
};

/*
 * Parse `len` bytes of `text` (need not be NUL-terminated; may be NULL when
 * len is 0).  `name` is copied and used in every message, normally the file's
 * path.  On success *ret is a new document for bx_toml_free().
 */
int bx_toml_parse_string(const char *name, const char *text, size_t len, struct bx_toml **ret,
                         struct bx_error **err);

/*
 * Read and parse the file at `path`; messages name `path`.  Failing to read
 * it, or a file larger than BX_TOML_MAX_SIZE, is an error from bx_read_file().
 */
int bx_toml_parse_file(const char *path, struct bx_toml **ret, struct bx_error **err);

/* Free a document and everything borrowed from it.  NULL-safe, returns NULL. */
struct bx_toml *bx_toml_free(struct bx_toml *doc);

static inline void bx_toml_free_p(struct bx_toml **doc)
{
        bx_toml_free(*doc);
}
#define _cleanup_toml_ __attribute__((cleanup(bx_toml_free_p)))

/* The name given to the parser (the path), and the top-level table. */
const char *bx_toml_name(const struct bx_toml *doc);
const struct bx_toml_table *bx_toml_root(const struct bx_toml *doc);

/*
 * A table's full dotted name, with parts quoted where TOML requires it:
 * `registry."harbor.test:5444"`; "" for the root.  Elements of an array of
 * tables share the array's name.
 */
const char *bx_toml_table_name(const struct bx_toml_table *t);
/* The name as messages use it: "table [builder]", "table [[registry]]", "the top-level table". */
const char *bx_toml_table_label(const struct bx_toml_table *t);
/*
 * The line of the table's header, else of the first header or dotted key
 * that named it; 0 for the root.
 */
unsigned bx_toml_table_line(const struct bx_toml_table *t);

/*
 * The entries of a table in file order (the order in which keys first
 * appear; a table named by a later header keeps the place where its name
 * first appeared, as the prefix of a longer header).  i < size.
 */
size_t bx_toml_table_size(const struct bx_toml_table *t);
const struct bx_toml_entry *bx_toml_table_at(const struct bx_toml_table *t, size_t i);
/* The entry for `key` (unquoted, one part: no dots are interpreted), or NULL. */
const struct bx_toml_entry *bx_toml_table_get(const struct bx_toml_table *t, const char *key);

/* The key (an array item has its array's key), type, and line of an entry. */
const char *bx_toml_entry_key(const struct bx_toml_entry *e);
enum bx_toml_type bx_toml_entry_type(const struct bx_toml_entry *e);
unsigned bx_toml_entry_line(const struct bx_toml_entry *e);

/*
 * Values.  Calling an accessor for another type is a programming error
 * (assert).  Strings are NUL-terminated UTF-8 with no NUL inside.
 */
const char *bx_toml_entry_string(const struct bx_toml_entry *e);                /* STRING */
int64_t bx_toml_entry_int(const struct bx_toml_entry *e);                       /* INT */
bool bx_toml_entry_bool(const struct bx_toml_entry *e);                         /* BOOL */
const struct bx_toml_table *bx_toml_entry_table(const struct bx_toml_entry *e); /* TABLE */
/* ARRAY and TABLE_ARRAY: number of items, and item i (i < size) with its own line. */
size_t bx_toml_entry_size(const struct bx_toml_entry *e);
const struct bx_toml_entry *bx_toml_entry_at(const struct bx_toml_entry *e, size_t i);

/* "a string", "an integer", "a boolean", "an array", "a table", "an array of tables". */
const char *bx_toml_type_name(enum bx_toml_type type);

/*
 * Typed lookups of `key` in table `t`.  Return 0 and set *ret when the key is
 * present with the right type; 1 when it is absent (*ret untouched, *err
 * untouched); -1 with *err set when it has another type:
 * "path:line: key 'image' in table [builder] must be a string, not an integer".
 */
int bx_toml_get_string(const struct bx_toml_table *t, const char *key, const char **ret,
                       struct bx_error **err);
int bx_toml_get_int(const struct bx_toml_table *t, const char *key, int64_t *ret,
                    struct bx_error **err);
int bx_toml_get_bool(const struct bx_toml_table *t, const char *key, bool *ret,
                     struct bx_error **err);
int bx_toml_get_table(const struct bx_toml_table *t, const char *key,
                      const struct bx_toml_table **ret, struct bx_error **err);
/* An ARRAY whose items are all of `item_type` (an empty array always matches). */
int bx_toml_get_array(const struct bx_toml_table *t, const char *key, enum bx_toml_type item_type,
                      const struct bx_toml_entry **ret, struct bx_error **err);
/* A TABLE_ARRAY entry: walk it with bx_toml_entry_size/at and bx_toml_entry_table. */
int bx_toml_get_table_array(const struct bx_toml_table *t, const char *key,
                            const struct bx_toml_entry **ret, struct bx_error **err);

/*
 * Set *err to "path:line: <fmt...>" for the line of entry `e` (or of table
 * `t`; a root table has no line and gives "path: <fmt...>"), so semantic
 * errors of the settings layer read like syntax errors:
 *   bx_toml_entry_error(e, err, "unknown key '%s' in %s", bx_toml_entry_key(e),
 *                       bx_toml_table_label(t));
 * Always return -1.
 */
int bx_toml_entry_error(const struct bx_toml_entry *e, struct bx_error **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int bx_toml_table_error(const struct bx_toml_table *t, struct bx_error **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
