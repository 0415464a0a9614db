/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "cleanup.h"
#include "error.h"
#include "toml.h"
#include "util.h"
#include "banned.h"

#define NAME "t.toml"

static void error_free_p(struct bx_error **e)
{
        bx_error_free(*e);
}
#define _cleanup_error_ _cleanup_(error_free_p)

static struct bx_toml *parse_len(const char *text, size_t len)
{
        _cleanup_error_ struct bx_error *err = NULL;
        struct bx_toml *doc = NULL;
        int r;

        r = bx_toml_parse_string(NAME, text, len, &doc, &err);
        if (r < 0)
                fail_msg("unexpected parse error: %s", err->msg);
        assert_int_equal(r, 0);
        assert_null(err);
        assert_non_null(doc);
        return doc;
}

static struct bx_toml *parse(const char *text)
{
        return parse_len(text, strlen(text));
}

/* Parse must fail with exactly `msg` ("t.toml:<line>: ..."), leaving *ret alone. */
static void expect_error_len(const char *text, size_t len, const char *msg)
{
        _cleanup_error_ struct bx_error *err = NULL;
        struct bx_toml *doc = (struct bx_toml *)&err; /* any non-NULL sentinel */
        int r;

        r = bx_toml_parse_string(NAME, text, len, &doc, &err);
        assert_int_equal(r, -1);
        assert_ptr_equal(doc, (struct bx_toml *)&err);
        assert_non_null(err);
        assert_int_equal(err->fail, BX_FAIL_SYSTEM);
        assert_int_equal(err->errnum, 0);
        assert_string_equal(err->msg, msg);
}

static void expect_error(const char *text, const char *msg)
{
        expect_error_len(text, strlen(text), msg);
}

static const struct bx_toml_entry *get(const struct bx_toml_table *t, const char *key)
{
        const struct bx_toml_entry *e = bx_toml_table_get(t, key);

        if (!e)
                fail_msg("no key '%s' in %s", key, bx_toml_table_label(t));
        return e;
}

static const char *str(const struct bx_toml_table *t, const char *key)
{
        const struct bx_toml_entry *e = get(t, key);

        assert_int_equal(bx_toml_entry_type(e), BX_TOML_STRING);
        return bx_toml_entry_string(e);
}

static int64_t num(const struct bx_toml_table *t, const char *key)
{
        const struct bx_toml_entry *e = get(t, key);

        assert_int_equal(bx_toml_entry_type(e), BX_TOML_INT);
        return bx_toml_entry_int(e);
}

static const struct bx_toml_table *sub(const struct bx_toml_table *t, const char *key)
{
        const struct bx_toml_entry *e = get(t, key);

        assert_int_equal(bx_toml_entry_type(e), BX_TOML_TABLE);
        return bx_toml_entry_table(e);
}

static void test_empty(void **state)
{
        _cleanup_toml_ struct bx_toml *a = NULL, *b = NULL, *c = NULL;

        (void)state;
        a = parse_len(NULL, 0);
        assert_int_equal(bx_toml_table_size(bx_toml_root(a)), 0);
        assert_string_equal(bx_toml_name(a), NAME);
        assert_string_equal(bx_toml_table_name(bx_toml_root(a)), "");
        assert_string_equal(bx_toml_table_label(bx_toml_root(a)), "the top-level table");
        assert_int_equal(bx_toml_table_line(bx_toml_root(a)), 0);

        b = parse("\n\n   \t\n# only a comment\n  # indented comment\n\n");
        assert_int_equal(bx_toml_table_size(bx_toml_root(b)), 0);
        c = parse("# no final newline");
        assert_int_equal(bx_toml_table_size(bx_toml_root(c)), 0);
        assert_null(bx_toml_free(NULL));
}

static void test_scalars(void **state)
{
        _cleanup_toml_ struct bx_toml *doc = NULL;
        const struct bx_toml_table *root;
        const struct bx_toml_entry *e;

        (void)state;
        doc = parse("s = \"hello world\"\n"
                    "lit = 'C:\\Users\\nobody\\*.toml'\n"
                    "empty = \"\"\n"
                    "empty_lit = ''\n"
                    "i = 42\n"
                    "plus = +17\n"
                    "neg = -5\n"
                    "zero = 0\n"
                    "negzero = -0\n"
                    "plus_zero = +0\n"
                    "big = 1_000_000\n"
                    "max = 9223372036854775807\n"
                    "min = -9223372036854775808\n"
                    "yes = true\n"
                    "no = false\n"
                    "tab\t=\t\"a\tb\"\n"
                    "utf8 = \"grüße, 日本\"\n"
                    "under_score-dash = 1\n"
                    "1234 = 'numeric bare key'\n");
        root = bx_toml_root(doc);
        assert_int_equal(bx_toml_table_size(root), 19);
        assert_string_equal(str(root, "s"), "hello world");
        assert_string_equal(str(root, "lit"), "C:\\Users\\nobody\\*.toml");
        assert_string_equal(str(root, "empty"), "");
        assert_string_equal(str(root, "empty_lit"), "");
        assert_int_equal(num(root, "i"), 42);
        assert_int_equal(num(root, "plus"), 17);
        assert_int_equal(num(root, "neg"), -5);
        assert_int_equal(num(root, "zero"), 0);
        assert_int_equal(num(root, "negzero"), 0);
        assert_int_equal(num(root, "plus_zero"), 0);
        assert_int_equal(num(root, "big"), 1000000);
        assert_true(num(root, "max") == INT64_MAX);
        assert_true(num(root, "min") == INT64_MIN);
        e = get(root, "yes");
        assert_int_equal(bx_toml_entry_type(e), BX_TOML_BOOL);
        assert_true(bx_toml_entry_bool(e));
        e = get(root, "no");
        assert_int_equal(bx_toml_entry_type(e), BX_TOML_BOOL);
        assert_false(bx_toml_entry_bool(e));
        assert_string_equal(str(root, "tab"), "a\tb");
        assert_string_equal(str(root, "utf8"), "grüße, 日本");
        assert_int_equal(num(root, "under_score-dash"), 1);
        assert_string_equal(str(root, "1234"), "numeric bare key");

        /* File order and lines. */
        e = bx_toml_table_at(root, 0);
        assert_string_equal(bx_toml_entry_key(e), "s");
        assert_int_equal(bx_toml_entry_line(e), 1);
        e = bx_toml_table_at(root, 18);
        assert_string_equal(bx_toml_entry_key(e), "1234");
        assert_int_equal(bx_toml_entry_line(e), 19);
        assert_null(bx_toml_table_get(root, "missing"));
}

static void test_escapes(void **state)
{
        _cleanup_toml_ struct bx_toml *doc = NULL;
        const struct bx_toml_table *root;

        (void)state;
        doc = parse("a = \"q\\\" b\\\\ n\\n t\\t r\\r b\\b f\\f\"\n"
                    "e = \"caf\\u00e9\"\n"
                    "E = \"caf\\u00E9\"\n"
                    "big = \"\\U0001F600\"\n"
                    "bmp = \"\\u20AC\\uFFFD\"\n"
                    "max = \"\\U0010FFFF\"\n"
                    "lit = 'no \\n escapes \"here\"'\n"
                    "\"quoted \\u00e9 key\" = 1\n");
        root = bx_toml_root(doc);
        assert_string_equal(str(root, "a"), "q\" b\\ n\n t\t r\r b\b f\f");
        assert_string_equal(str(root, "e"), "caf\xc3\xa9");
        assert_string_equal(str(root, "E"), "caf\xc3\xa9");
        assert_string_equal(str(root, "big"), "\xf0\x9f\x98\x80");
        assert_string_equal(str(root, "bmp"), "\xe2\x82\xac\xef\xbf\xbd");
        assert_string_equal(str(root, "max"), "\xf4\x8f\xbf\xbf");
        assert_string_equal(str(root, "lit"), "no \\n escapes \"here\"");
        assert_int_equal(num(root, "quoted \xc3\xa9 key"), 1);
}

static void test_multiline_strings(void **state)
{
        _cleanup_toml_ struct bx_toml *doc = NULL;
        const struct bx_toml_table *root;

        (void)state;
        doc = parse("a = \"\"\"\n"            /* 1: the first newline is trimmed */
                    "line one\n"              /* 2 */
                    "line \"two\" \"\"\n"     /* 3 */
                    "caf\\u00e9\"\"\"\n"      /* 4 */
                    "b = \"\"\"one \\\n"      /* 5: line-ending backslash */
                    "      two \\   \n"       /* 6: ...with trailing spaces */
                    "\n"                      /* 7 */
                    "   three\"\"\"\n"        /* 8 */
                    "c = '''\n"               /* 9 */
                    "C:\\raw\\path ''\n"      /* 10 */
                    "end'''\n"                /* 11 */
                    "d = \"\"\"x\"\"\"\"\"\n" /* 12: two quotes before the end */
                    "e = '''''y'''''\n"       /* 13 */
                    "f = \"\"\"\"\"\"\n"      /* 14: empty */
                    "g = 1\n");               /* 15 */
        root = bx_toml_root(doc);
        assert_string_equal(str(root, "a"), "line one\nline \"two\" \"\"\ncaf\xc3\xa9");
        assert_string_equal(str(root, "b"), "one two three");
        assert_string_equal(str(root, "c"), "C:\\raw\\path ''\nend");
        assert_string_equal(str(root, "d"), "x\"\"");
        assert_string_equal(str(root, "e"), "''y''");
        assert_string_equal(str(root, "f"), "");
        assert_int_equal(bx_toml_entry_line(get(root, "b")), 5);
        assert_int_equal(bx_toml_entry_line(get(root, "c")), 9);
        assert_int_equal(bx_toml_entry_line(get(root, "g")), 15);
}

static void test_tables(void **state)
{
        _cleanup_toml_ struct bx_toml *doc = NULL;
        const struct bx_toml_table *root, *t, *reg;
        const struct bx_toml_entry *e;

        (void)state;
        doc = parse("top = 1\n"                               /* 1 */
                    "[builder]\n"                             /* 2 */
                    "image = \"moby/buildkit\"\n"             /* 3 */
                    "[registry.\"harbor.example:8443\"]\n"    /* 4 */
                    "ca = '/etc/ca.pem'\n"                    /* 5 */
                    "[ registry . 'plain:5000' ]  # spaces\n" /* 6 */
                    "http = true\n"                           /* 7 */
                    "[a.b.c]\n"                               /* 8 */
                    "x = 1\n"                                 /* 9 */
                    "[a]\n"                                   /* 10: implicit, now defined */
                    "y = 2\n"                                 /* 11 */
                    "[a.b]\n"                                 /* 12 */
                    "z = 3\n"                                 /* 13 */
                    "[\"a.b\"]\n"                             /* 14: one key with a dot */
                    "\"k.e.y\" = 4\n"                         /* 15 */
                    "[\"\"]\n"                                /* 16: empty key */
                    "\"\" = 5\n");                            /* 17 */
        root = bx_toml_root(doc);
        assert_int_equal(bx_toml_table_size(root), 6);
        assert_string_equal(bx_toml_entry_key(bx_toml_table_at(root, 0)), "top");
        assert_string_equal(bx_toml_entry_key(bx_toml_table_at(root, 1)), "builder");
        assert_string_equal(bx_toml_entry_key(bx_toml_table_at(root, 2)), "registry");
        assert_string_equal(bx_toml_entry_key(bx_toml_table_at(root, 3)), "a");
        assert_string_equal(bx_toml_entry_key(bx_toml_table_at(root, 4)), "a.b");
        assert_string_equal(bx_toml_entry_key(bx_toml_table_at(root, 5)), "");

        t = sub(root, "builder");
        assert_string_equal(str(t, "image"), "moby/buildkit");
        assert_string_equal(bx_toml_table_name(t), "builder");
        assert_string_equal(bx_toml_table_label(t), "table [builder]");
        assert_int_equal(bx_toml_table_line(t), 2);
        assert_int_equal(bx_toml_entry_line(get(root, "builder")), 2);

        reg = sub(root, "registry");
        assert_int_equal(bx_toml_table_size(reg), 2);
        assert_int_equal(bx_toml_table_line(reg), 4); /* first mentioned */
        t = sub(reg, "harbor.example:8443");
        assert_string_equal(str(t, "ca"), "/etc/ca.pem");
        assert_string_equal(bx_toml_table_name(t), "registry.\"harbor.example:8443\"");
        assert_string_equal(bx_toml_table_label(t), "table [registry.\"harbor.example:8443\"]");
        t = sub(reg, "plain:5000");
        assert_true(bx_toml_entry_bool(get(t, "http")));
        assert_string_equal(bx_toml_table_name(t), "registry.\"plain:5000\"");

        t = sub(root, "a");
        assert_int_equal(bx_toml_table_line(t), 10);
        assert_int_equal(bx_toml_entry_line(get(root, "a")), 10);
        assert_int_equal(num(t, "y"), 2);
        t = sub(t, "b");
        assert_int_equal(bx_toml_table_line(t), 12);
        assert_int_equal(num(t, "z"), 3);
        assert_int_equal(num(sub(t, "c"), "x"), 1);
        assert_string_equal(bx_toml_table_name(sub(t, "c")), "a.b.c");

        t = sub(root, "a.b");
        assert_string_equal(bx_toml_table_label(t), "table [\"a.b\"]");
        e = get(t, "k.e.y");
        assert_int_equal(bx_toml_entry_int(e), 4);
        assert_int_equal(bx_toml_entry_line(e), 15);
        t = sub(root, "");
        assert_string_equal(bx_toml_table_label(t), "table [\"\"]");
        assert_int_equal(num(t, ""), 5);
}

static void test_dotted_keys(void **state)
{
        _cleanup_toml_ struct bx_toml *doc = NULL;
        const struct bx_toml_table *root, *t;

        (void)state;
        doc = parse("a.b.c = 1\n"
                    "a.b.d = 'x'\n"
                    "a . \"e.f\" = true\n"
                    "[fruit]\n"
                    "apple.color = \"red\"\n"
                    "apple.taste.sweet = true\n"
                    "[fruit.apple.texture]\n" /* sub-tables of dotted tables are allowed */
                    "smooth = true\n");
        root = bx_toml_root(doc);
        t = sub(sub(root, "a"), "b");
        assert_string_equal(bx_toml_table_name(t), "a.b");
        assert_int_equal(bx_toml_table_line(t), 1);
        assert_int_equal(num(t, "c"), 1);
        assert_string_equal(str(t, "d"), "x");
        assert_true(bx_toml_entry_bool(get(sub(root, "a"), "e.f")));
        t = sub(sub(root, "fruit"), "apple");
        assert_string_equal(str(t, "color"), "red");
        assert_true(bx_toml_entry_bool(get(sub(t, "taste"), "sweet")));
        assert_true(bx_toml_entry_bool(get(sub(t, "texture"), "smooth")));
        assert_string_equal(bx_toml_table_label(sub(t, "texture")), "table [fruit.apple.texture]");
}

static void test_table_arrays(void **state)
{
        _cleanup_toml_ struct bx_toml *doc = NULL;
        const struct bx_toml_table *root, *t;
        const struct bx_toml_entry *arr, *el;

        (void)state;
        doc = parse("[[registry]]\n"                /* 1 */
                    "host = 'a.test'\n"             /* 2 */
                    "[registry.tls]\n"              /* 3: belongs to the first */
                    "ca = 'a.pem'\n"                /* 4 */
                    "\n"                            /* 5 */
                    "[[registry]]\n"                /* 6 */
                    "host = 'b.test'\n"             /* 7 */
                    "[registry.tls]\n"              /* 8: the second one's */
                    "ca = 'b.pem'\n"                /* 9 */
                    "[[registry.mirror]]\n"         /* 10 */
                    "url = 'm1'\n"                  /* 11 */
                    "[[registry.mirror]]\n"         /* 12 */
                    "url = 'm2'\n"                  /* 13 */
                    "[[builder.remote]]\n"          /* 14 */
                    "endpoint = 'tcp://x:1234'\n"); /* 15 */
        root = bx_toml_root(doc);
        arr = get(root, "registry");
        assert_int_equal(bx_toml_entry_type(arr), BX_TOML_TABLE_ARRAY);
        assert_int_equal(bx_toml_entry_line(arr), 1);
        assert_int_equal(bx_toml_entry_size(arr), 2);

        el = bx_toml_entry_at(arr, 0);
        assert_int_equal(bx_toml_entry_type(el), BX_TOML_TABLE);
        assert_int_equal(bx_toml_entry_line(el), 1);
        assert_string_equal(bx_toml_entry_key(el), "registry");
        t = bx_toml_entry_table(el);
        assert_string_equal(bx_toml_table_label(t), "table [[registry]]");
        assert_int_equal(bx_toml_table_line(t), 1);
        assert_string_equal(str(t, "host"), "a.test");
        assert_string_equal(str(sub(t, "tls"), "ca"), "a.pem");
        assert_null(bx_toml_table_get(t, "mirror"));

        el = bx_toml_entry_at(arr, 1);
        assert_int_equal(bx_toml_entry_line(el), 6);
        t = bx_toml_entry_table(el);
        assert_string_equal(str(t, "host"), "b.test");
        assert_string_equal(str(sub(t, "tls"), "ca"), "b.pem");
        assert_string_equal(bx_toml_table_label(sub(t, "tls")), "table [registry.tls]");
        arr = get(t, "mirror");
        assert_int_equal(bx_toml_entry_size(arr), 2);
        el = bx_toml_entry_at(arr, 1);
        assert_int_equal(bx_toml_entry_line(el), 12);
        assert_string_equal(str(bx_toml_entry_table(el), "url"), "m2");
        assert_string_equal(bx_toml_table_label(bx_toml_entry_table(el)),
                            "table [[registry.mirror]]");

        t = sub(root, "builder");
        arr = get(t, "remote");
        assert_int_equal(bx_toml_entry_size(arr), 1);
        assert_string_equal(str(bx_toml_entry_table(bx_toml_entry_at(arr, 0)), "endpoint"),
                            "tcp://x:1234");
}

static void test_arrays(void **state)
{
        _cleanup_toml_ struct bx_toml *doc = NULL;
        const struct bx_toml_table *root;
        const struct bx_toml_entry *e, *item;

        (void)state;
        doc = parse("platforms = [\n"                        /* 1 */
                    "  \"linux/amd64\",   # the host\n"      /* 2 */
                    "  # a comment line\n"                   /* 3 */
                    "\n"                                     /* 4 */
                    "  'linux/arm64' , \"linux/riscv64\",\n" /* 5 */
                    "]  # trailing comma above\n"            /* 6 */
                    "empty = []\n"                           /* 7 */
                    "empty2 = [ # nothing\n"                 /* 8 */
                    "]\n"                                    /* 9 */
                    "ints = [1, -2, 3_000]\n"                /* 10 */
                    "bools = [true,false,]\n"                /* 11 */
                    "multi = [\"\"\"a\n"                     /* 12 */
                    "b\"\"\", 'c']\n");                      /* 13 */
        root = bx_toml_root(doc);
        e = get(root, "platforms");
        assert_int_equal(bx_toml_entry_type(e), BX_TOML_ARRAY);
        assert_int_equal(bx_toml_entry_line(e), 1);
        assert_int_equal(bx_toml_entry_size(e), 3);
        item = bx_toml_entry_at(e, 0);
        assert_int_equal(bx_toml_entry_type(item), BX_TOML_STRING);
        assert_string_equal(bx_toml_entry_string(item), "linux/amd64");
        assert_string_equal(bx_toml_entry_key(item), "platforms");
        assert_int_equal(bx_toml_entry_line(item), 2);
        item = bx_toml_entry_at(e, 1);
        assert_string_equal(bx_toml_entry_string(item), "linux/arm64");
        assert_int_equal(bx_toml_entry_line(item), 5);
        item = bx_toml_entry_at(e, 2);
        assert_string_equal(bx_toml_entry_string(item), "linux/riscv64");
        assert_int_equal(bx_toml_entry_line(item), 5);

        assert_int_equal(bx_toml_entry_size(get(root, "empty")), 0);
        assert_int_equal(bx_toml_entry_size(get(root, "empty2")), 0);
        assert_int_equal(bx_toml_entry_line(get(root, "empty2")), 8);
        e = get(root, "ints");
        assert_int_equal(bx_toml_entry_line(e), 10);
        assert_int_equal(bx_toml_entry_size(e), 3);
        assert_int_equal(bx_toml_entry_int(bx_toml_entry_at(e, 1)), -2);
        assert_int_equal(bx_toml_entry_int(bx_toml_entry_at(e, 2)), 3000);
        e = get(root, "bools");
        assert_int_equal(bx_toml_entry_size(e), 2);
        assert_true(bx_toml_entry_bool(bx_toml_entry_at(e, 0)));
        assert_false(bx_toml_entry_bool(bx_toml_entry_at(e, 1)));
        e = get(root, "multi");
        assert_string_equal(bx_toml_entry_string(bx_toml_entry_at(e, 0)), "a\nb");
        assert_int_equal(bx_toml_entry_line(bx_toml_entry_at(e, 1)), 13);
}

static void test_crlf(void **state)
{
        _cleanup_toml_ struct bx_toml *doc = NULL;
        const struct bx_toml_table *root, *t;

        (void)state;
        doc = parse("# comment\r\n"
                    "a = 1\r\n"
                    "\r\n"
                    "[t] # c\r\n"
                    "list = [\r\n"
                    "  'x', # c\r\n"
                    "  'y',\r\n"
                    "]\r\n"
                    "m = \"\"\"\r\n"
                    "one\r\n"
                    "two \\\r\n"
                    "   three\"\"\"\r\n"
                    "last = true");
        root = bx_toml_root(doc);
        assert_int_equal(bx_toml_entry_line(get(root, "a")), 2);
        t = sub(root, "t");
        assert_int_equal(bx_toml_table_line(t), 4);
        assert_int_equal(bx_toml_entry_size(get(t, "list")), 2);
        assert_int_equal(bx_toml_entry_line(bx_toml_entry_at(get(t, "list"), 1)), 7);
        assert_string_equal(str(t, "m"), "one\ntwo three");
        assert_int_equal(bx_toml_entry_line(get(t, "last")), 13);

        expect_error("a = 1\rb = 2\n",
                     NAME ":1: expected end of line after the value, found U+000D");
        expect_error("a = 1\n# x\ry\n", NAME ":2: control character U+000D in a comment");
        expect_error("a = \"x\ry\"\n",
                     NAME ":1: control character U+000D in a string, use an escape");
}

static void test_comments_everywhere(void **state)
{
        _cleanup_toml_ struct bx_toml *doc = NULL;
        const struct bx_toml_table *root;

        (void)state;
        doc = parse("#!/comment at the start\n"
                    "a = 1#no space before\n"
                    "b = 'x' # with \"quotes\" and 'apostrophes' and [brackets] = \t tabs\n"
                    "c = \"# not a comment\"\n"
                    "[t]# after a header\n"
                    "[[u]] # after an array header\n"
                    "d = [ # after [\n"
                    "  1, # after an item\n"
                    "  # own line\n"
                    "  2 # before a comma\n"
                    "  , 3 # before ]\n"
                    "] # after ]\n"
                    "# unicode in comments: é 日本 😀\n"
                    "# at the end without newline");
        root = bx_toml_root(doc);
        assert_int_equal(num(root, "a"), 1);
        assert_string_equal(str(root, "b"), "x");
        assert_string_equal(str(root, "c"), "# not a comment");
        assert_int_equal(
            bx_toml_entry_size(get(bx_toml_entry_table(bx_toml_entry_at(get(root, "u"), 0)), "d")),
            3);
}

static void test_bom(void **state)
{
        _cleanup_toml_ struct bx_toml *doc = NULL;

        (void)state;
        doc = parse("\xef\xbb\xbf"
                    "a = 1\n");
        assert_int_equal(num(bx_toml_root(doc), "a"), 1);
        expect_error("a = 1\n\xef\xbb\xbf", NAME ":2: expected a key, found U+FEFF");
}

static void test_getters(void **state)
{
        _cleanup_toml_ struct bx_toml *doc = NULL;
        _cleanup_error_ struct bx_error *err = NULL;
        const struct bx_toml_table *root, *t = NULL, *b;
        const struct bx_toml_entry *e = NULL;
        const char *s = "untouched";
        int64_t i = 77;
        bool flag = true;

        (void)state;
        doc = parse("name = 'x'\n"
                    "[builder]\n"
                    "image = 42\n"
                    "timeout = 30\n"
                    "debug = false\n"
                    "platforms = ['linux/amd64']\n"
                    "ports = [1, 2]\n"
                    "none = []\n"
                    "[[builder.remote]]\n"
                    "endpoint = 'tcp://a'\n");
        root = bx_toml_root(doc);

        assert_int_equal(bx_toml_get_string(root, "name", &s, &err), 0);
        assert_string_equal(s, "x");
        assert_int_equal(bx_toml_get_table(root, "builder", &b, &err), 0);
        assert_null(err);

        /* Absent: 1, nothing touched. */
        s = "untouched";
        assert_int_equal(bx_toml_get_string(b, "nope", &s, &err), 1);
        assert_string_equal(s, "untouched");
        assert_int_equal(bx_toml_get_int(b, "nope", &i, &err), 1);
        assert_int_equal(i, 77);
        assert_int_equal(bx_toml_get_bool(b, "nope", &flag, &err), 1);
        assert_true(flag);
        assert_int_equal(bx_toml_get_table(b, "nope", &t, &err), 1);
        assert_null(t);
        assert_int_equal(bx_toml_get_array(b, "nope", BX_TOML_STRING, &e, &err), 1);
        assert_int_equal(bx_toml_get_table_array(b, "nope", &e, &err), 1);
        assert_null(e);
        assert_null(err);

        assert_int_equal(bx_toml_get_int(b, "timeout", &i, &err), 0);
        assert_int_equal(i, 30);
        assert_int_equal(bx_toml_get_bool(b, "debug", &flag, &err), 0);
        assert_false(flag);
        assert_int_equal(bx_toml_get_array(b, "platforms", BX_TOML_STRING, &e, &err), 0);
        assert_int_equal(bx_toml_entry_size(e), 1);
        e = NULL;
        assert_int_equal(bx_toml_get_array(b, "none", BX_TOML_STRING, &e, &err), 0);
        assert_int_equal(bx_toml_entry_size(e), 0);
        assert_int_equal(bx_toml_get_array(b, "ports", BX_TOML_INT, &e, &err), 0);
        assert_int_equal(bx_toml_get_table_array(b, "remote", &e, &err), 0);
        assert_int_equal(bx_toml_entry_size(e), 1);
        assert_null(err);

        /* Wrong type: -1 with the entry's line. */
        s = "untouched";
        assert_int_equal(bx_toml_get_string(b, "image", &s, &err), -1);
        assert_string_equal(s, "untouched");
        assert_string_equal(err->msg, NAME ":3: key 'image' in table [builder] must be a string, "
                                           "not an integer");
        bx_error_clear(&err);
        assert_int_equal(bx_toml_get_int(root, "name", &i, &err), -1);
        assert_string_equal(err->msg, NAME ":1: key 'name' in the top-level table must be an "
                                           "integer, not a string");
        bx_error_clear(&err);
        assert_int_equal(bx_toml_get_bool(b, "platforms", &flag, &err), -1);
        assert_string_equal(err->msg, NAME ":6: key 'platforms' in table [builder] must be a "
                                           "boolean, not an array");
        bx_error_clear(&err);
        assert_int_equal(bx_toml_get_table(root, "name", &t, &err), -1);
        assert_string_equal(err->msg, NAME ":1: key 'name' in the top-level table must be a "
                                           "table, not a string");
        bx_error_clear(&err);
        assert_int_equal(bx_toml_get_array(b, "ports", BX_TOML_STRING, &e, &err), -1);
        assert_string_equal(err->msg, NAME ":7: key 'ports' in table [builder] must be an array "
                                           "of strings, not an array of integers");
        bx_error_clear(&err);
        assert_int_equal(bx_toml_get_array(b, "timeout", BX_TOML_BOOL, &e, &err), -1);
        assert_string_equal(err->msg, NAME ":4: key 'timeout' in table [builder] must be an array "
                                           "of booleans, not an integer");
        bx_error_clear(&err);
        assert_int_equal(bx_toml_get_table_array(b, "debug", &e, &err), -1);
        assert_string_equal(err->msg, NAME ":5: key 'debug' in table [builder] must be an array "
                                           "of tables, not a boolean");
        bx_error_clear(&err);
        assert_int_equal(bx_toml_get_table(b, "remote", &t, &err), -1);
        assert_string_equal(err->msg, NAME ":9: key 'remote' in table [builder] must be a table, "
                                           "not an array of tables");
}

static void test_entry_error(void **state)
{
        _cleanup_toml_ struct bx_toml *doc = NULL;
        _cleanup_error_ struct bx_error *err = NULL;
        const struct bx_toml_table *root, *t;
        const struct bx_toml_entry *e;

        (void)state;
        doc = parse("\n[registry.\"harbor.test:5444\"]\nimagee = 1\nlist = [\n 'a',\n 'b']\n");
        root = bx_toml_root(doc);
        t = sub(sub(root, "registry"), "harbor.test:5444");
        e = get(t, "imagee");
        assert_int_equal(bx_toml_entry_error(e, &err, "unknown key '%s' in %s",
                                             bx_toml_entry_key(e), bx_toml_table_label(t)),
                         -1);
        assert_int_equal(err->fail, BX_FAIL_SYSTEM);
        assert_string_equal(err->msg, NAME
                            ":3: unknown key 'imagee' in table [registry.\"harbor.test:5444\"]");
        bx_error_clear(&err);

        e = bx_toml_entry_at(get(t, "list"), 1);
        assert_int_equal(
            bx_toml_entry_error(e, &err, "'%s' is not a platform", bx_toml_entry_string(e)), -1);
        assert_string_equal(err->msg, NAME ":6: 'b' is not a platform");
        bx_error_clear(&err);

        assert_int_equal(
            bx_toml_table_error(t, &err, "missing key 'url' in %s", bx_toml_table_label(t)), -1);
        assert_string_equal(err->msg,
                            NAME ":2: missing key 'url' in table [registry.\"harbor.test:5444\"]");
        bx_error_clear(&err);

        assert_int_equal(bx_toml_table_error(root, &err, "missing table [builder]"), -1);
        assert_string_equal(err->msg, NAME ": missing table [builder]");
}

/* How the settings layer walks a document: file order, unknown keys by line. */
static void test_settings_walk(void **state)
{
        static const char *const known[] = {"host", "ca", "mirrors", "http"};
        _cleanup_toml_ struct bx_toml *doc = NULL;
        _cleanup_error_ struct bx_error *err = NULL;
        const struct bx_toml_entry *regs, *mirrors = NULL;
        const struct bx_toml_table *reg;
        const char *host = NULL;
        size_t i, j, k;
        bool http = false;

        (void)state;
        doc = parse("[builder]\n"
                    "driver = \"docker-container\"   # the default\n"
                    "platforms = [\"linux/amd64\", \"linux/arm64\"]\n"
                    "\n"
                    "[[registry]]\n"
                    "host = \"harbor.example:8443\"\n"
                    "ca = \"/etc/buildx-executor/harbor-ca.pem\"\n"
                    "\n"
                    "[[registry]]\n"
                    "host = \"docker.io\"\n"
                    "mirrors = [\"harbor.example:8443/dockerhub\"]\n"
                    "htpp = true\n");
        assert_int_equal(bx_toml_get_table_array(bx_toml_root(doc), "registry", &regs, &err), 0);
        assert_int_equal(bx_toml_entry_size(regs), 2);
        for (i = 0; i < bx_toml_entry_size(regs) && !err; i++) {
                reg = bx_toml_entry_table(bx_toml_entry_at(regs, i));
                for (j = 0; j < bx_toml_table_size(reg); j++) {
                        const struct bx_toml_entry *e = bx_toml_table_at(reg, j);

                        for (k = 0; k < ARRAY_SIZE(known); k++)
                                if (strcmp(bx_toml_entry_key(e), known[k]) == 0)
                                        break;
                        if (k == ARRAY_SIZE(known)) {
                                bx_toml_entry_error(e, &err, "unknown key '%s' in %s",
                                                    bx_toml_entry_key(e), bx_toml_table_label(reg));
                                break;
                        }
                }
                if (i == 1) {
                        assert_int_equal(bx_toml_get_string(reg, "host", &host, &err), 0);
                        assert_int_equal(bx_toml_get_bool(reg, "http", &http, &err), 1);
                        assert_int_equal(
                            bx_toml_get_array(reg, "mirrors", BX_TOML_STRING, &mirrors, &err), 0);
                }
        }
        assert_non_null(err);
        assert_string_equal(err->msg, NAME ":12: unknown key 'htpp' in table [[registry]]");
        assert_string_equal(host, "docker.io");
        assert_false(http);
        assert_string_equal(bx_toml_entry_string(bx_toml_entry_at(mirrors, 0)),
                            "harbor.example:8443/dockerhub");
}

static void test_syntax_errors(void **state)
{
        (void)state;
        expect_error("a = 1 2\n", NAME ":1: expected end of line after the value, found '2'");
        expect_error("\n= 1\n", NAME ":2: expected a key, found '='");
        expect_error("a 1\n", NAME ":1: expected '=' after key 'a', found '1'");
        expect_error("a\n", NAME ":1: expected '=' after key 'a', found end of line");
        expect_error("a =", NAME ":1: expected a value, found end of file");
        expect_error("a = \n", NAME ":1: expected a value, found end of line");
        expect_error("a = # nothing\n", NAME ":1: expected a value, found '#'");
        expect_error("a. = 1\n", NAME ":1: expected a key, found '='");
        expect_error("x = 1\n\n[a\n",
                     NAME ":3: expected ']' after the table name, found end of line");
        expect_error("[[a]\n", NAME ":1: expected ']]' after the table name, found end of line");
        expect_error("[[a] ]\n", NAME ":1: expected ']]' after the table name, found ' '");
        expect_error("[ [a]]\n", NAME ":1: expected a table name, found '['");
        expect_error("[]\n", NAME ":1: expected a table name, found ']'");
        expect_error("[a] x = 1\n",
                     NAME ":1: expected end of line after the table header, found 'x'");
        expect_error("a = [1 2]\n", NAME ":1: expected ',' or ']' in array, found '2'");
        expect_error("a = [1,,2]\n", NAME ":1: expected a value, found ','");
        expect_error("a = [,]\n", NAME ":1: expected a value, found ','");
        expect_error("a = [\n'x',\n", NAME ":1: unterminated array");
        expect_error("a = yes\n", NAME ":1: invalid value 'yes' (strings must be quoted, booleans "
                                       "are true or false)");
        expect_error("a = True\n", NAME ":1: invalid value 'True' (strings must be quoted, "
                                        "booleans are true or false)");
        expect_error("a = truex\n", NAME ":1: invalid value 'truex' (strings must be quoted, "
                                         "booleans are true or false)");
        expect_error("a = \"x\" y\n", NAME ":1: expected end of line after the value, found 'y'");
        expect_error("a = 'x' = 'y'\n", NAME ":1: expected end of line after the value, found '='");
        expect_error("\"a\"b = 1\n", NAME ":1: expected '=' after key 'a', found 'b'");
        expect_error("a = [[1]]\n", NAME ":1: nested arrays are not supported");
        expect_error("a = [1, 'x']\n", NAME ":1: mixed types in array 'a': a string after an "
                                            "integer");
        expect_error("a = [\n 'x',\n true,\n]\n", NAME ":3: mixed types in array 'a': a boolean "
                                                       "after a string");
        expect_error("a = ]\n", NAME ":1: expected a value, found ']'");
}

static void test_bare_keys(void **state)
{
        (void)state;
        expect_error("a$b = 1\n", NAME ":1: invalid character '$' in bare key 'a' (bare keys may "
                                       "use A-Z a-z 0-9 _ -, quote other keys)");
        expect_error("\nk\xc3\xa9 = 1\n", NAME ":2: invalid character U+00E9 in bare key 'k' (bare "
                                               "keys may use A-Z a-z 0-9 _ -, quote other keys)");
        expect_error("[a:b]\n", NAME ":1: invalid character ':' in bare key 'a' (bare keys may "
                                     "use A-Z a-z 0-9 _ -, quote other keys)");
        expect_error("[registry.harbor:8443]\n",
                     NAME ":1: invalid character ':' in bare key "
                          "'harbor' (bare keys may use A-Z a-z 0-9 _ -, "
                          "quote other keys)");
        expect_error("my key = 1\n", NAME ":1: expected '=' after key 'my', found 'k'");
        expect_error("\xc3\xa9 = 1\n", NAME ":1: expected a key, found U+00E9");
        expect_error("a = 1\n  $ = 2\n", NAME ":2: expected a key, found '$'");
}

static void test_string_errors(void **state)
{
        (void)state;
        expect_error("a = 1\nb = \"abc", NAME ":2: unterminated string at end of file");
        expect_error("a = 1\nb = 'abc", NAME ":2: unterminated string at end of file");
        expect_error("a = 1\nb = \"abc\nc = 2\n", NAME ":2: unterminated string at end of line (a "
                                                       "newline in a string is written \\n)");
        expect_error("a = 1\nb = \"abc\r\ndef\"\n", NAME ":2: unterminated string at end of line "
                                                         "(a newline in a string is written \\n)");
        expect_error("b = 'abc\ndef'\n", NAME ":1: unterminated string at end of line (a newline "
                                              "in a string is written \\n)");
        expect_error("a = \"x\\\"\n", NAME ":1: unterminated string at end of line (a newline in a "
                                           "string is written \\n)");
        expect_error("a = \"x\\", NAME ":1: unterminated string at end of file");
        expect_error("\n\na = \"x\\qy\"\n", NAME ":3: invalid escape '\\q' in string");
        expect_error("a = \"x\\x41\"\n", NAME ":1: invalid escape '\\x' in string");
        expect_error("a = \"x\\e\"\n", NAME ":1: invalid escape '\\e' in string");
        expect_error("a = \"x\\ \"\n", NAME ":1: invalid escape '\\ ' in string");
        expect_error("a = \"x\\\xc3\xa9\"\n", NAME ":1: invalid escape in string: backslash "
                                                   "followed by U+00E9");
        expect_error("a = \"\\u12\"\n", NAME ":1: invalid escape '\\u12', \\u needs 4 hex digits");
        expect_error("a = \"\\u12g4\"\n",
                     NAME ":1: invalid escape '\\u12', \\u needs 4 hex digits");
        expect_error("a = \"\\U0001F6\"\n", NAME ":1: invalid escape '\\U0001F6', \\U needs 8 hex "
                                                 "digits");
        expect_error("a = \"\\uD800\"\n",
                     NAME ":1: escape '\\uD800' is not a Unicode scalar value");
        expect_error("a = \"\\U00110000\"\n", NAME ":1: escape '\\U00110000' is not a Unicode "
                                                   "scalar value");
        expect_error("a = \"\\u0000\"\n", NAME ":1: escape '\\u0000' is not allowed: strings "
                                               "cannot contain NUL");
        expect_error("a = \"x\x01y\"\n",
                     NAME ":1: control character U+0001 in a string, use an escape");
        expect_error("a = 'x\x7fy'\n",
                     NAME ":1: control character U+007F in a string, use an escape");
        expect_error("\"k\x1b\" = 1\n",
                     NAME ":1: control character U+001B in a string, use an escape");
        expect_error("a = 1 # bell\x07\n", NAME ":1: control character U+0007 in a comment");
        /* Multi-line strings: unterminated is reported where it starts. */
        expect_error("a = 1\nb = \"\"\"\nabc\n\n", NAME ":2: unterminated multi-line string");
        expect_error("a = 1\nb = '''\nabc\n''", NAME ":2: unterminated multi-line string");
        expect_error("a = \"\"\"\nx\ny\\q\"\"\"\n", NAME ":3: invalid escape '\\q' in string");
        expect_error("a = \"\"\"x \\ y\"\"\"\n", NAME ":1: invalid escape '\\ ' in string");
        expect_error("a = \"\"\"\nx\x01\"\"\"\n",
                     NAME ":2: control character U+0001 in a string, use an escape");
        expect_error("a = \"\"\"x\"\"\"\"\"\"\n", NAME ":1: too many quotes at the end of a "
                                                       "multi-line string");
        expect_error("a = \"\"\"x\"\"\" y\n", NAME ":1: expected end of line after the value, "
                                                   "found 'y'");
}

static void test_number_errors(void **state)
{
        (void)state;
        expect_error("a = 9223372036854775808\n", NAME ":1: integer '9223372036854775808' is out "
                                                       "of range (64-bit signed)");
        expect_error("a = -9223372036854775809\n", NAME ":1: integer '-9223372036854775809' is "
                                                        "out of range (64-bit signed)");
        expect_error("a = 99999999999999999999999999999999999999999999999999\n",
                     NAME ":1: integer '9999999999999999999999999999999999999999...' is out of "
                          "range (64-bit signed)");
        expect_error("\na = 007\n", NAME ":2: leading zeros are not allowed in integer '007'");
        expect_error("a = -01\n", NAME ":1: leading zeros are not allowed in integer '-01'");
        expect_error("a = 0_1\n", NAME ":1: leading zeros are not allowed in integer '0_1'");
        expect_error("a = 1__0\n", NAME ":1: invalid integer '1__0'");
        expect_error("a = 1_\n", NAME ":1: invalid integer '1_'");
        expect_error("a = -_1\n", NAME ":1: invalid integer '-_1'");
        expect_error("a = -\n", NAME ":1: invalid integer '-'");
        expect_error("a = +-1\n", NAME ":1: invalid integer '+-1'");
        expect_error("a = 12abc\n", NAME ":1: invalid integer '12abc'");
        expect_error("a = _1\n", NAME ":1: invalid value '_1' (strings must be quoted, booleans "
                                      "are true or false)");
        expect_error("a = 0xff\n", NAME ":1: hexadecimal integers are not supported, write '0xff' "
                                        "in decimal");
        expect_error("a = 0o17\n", NAME ":1: octal integers are not supported, write '0o17' in "
                                        "decimal");
        expect_error("a = 0b101\n", NAME ":1: binary integers are not supported, write '0b101' in "
                                         "decimal");
        expect_error("a = 1\nb = 3.14\n", NAME ":2: floats are not supported, found '3.14'");
        expect_error("a = -1e5\n", NAME ":1: floats are not supported, found '-1e5'");
        expect_error("a = 6.02E+23\n", NAME ":1: floats are not supported, found '6.02E+23'");
        expect_error("a = inf\n", NAME ":1: floats are not supported, found 'inf'");
        expect_error("a = -nan\n", NAME ":1: floats are not supported, found '-nan'");
        expect_error("a = [1.5]\n", NAME ":1: floats are not supported, found '1.5'");
        expect_error("a = 1979-05-27\n", NAME ":1: dates and times are not supported, found "
                                              "'1979-05-27'");
        expect_error("a = 1979-05-27T07:32:00Z\n", NAME ":1: dates and times are not supported, "
                                                        "found '1979-05-27T07:32:00Z'");
        expect_error("a = 1979-05-27 07:32:00\n", NAME ":1: dates and times are not supported, "
                                                       "found '1979-05-27'");
        expect_error("a = 07:32:00\n", NAME ":1: dates and times are not supported, found "
                                            "'07:32:00'");
}

static void test_unsupported(void **state)
{
        (void)state;
        expect_error("\n\nbuilder = { image = 'x' }\n",
                     NAME ":3: inline tables are not supported in buildx-executor settings, use a "
                          "[table]");
        expect_error("a = [{}]\n", NAME ":1: inline tables are not supported in buildx-executor "
                                        "settings, use a [table]");
}

static void test_duplicates(void **state)
{
        (void)state;
        expect_error("[builder]\nimage = 'a'\n\nimage = 'b'\n",
                     NAME ":4: duplicate key 'image' in table [builder], first set on line 2");
        expect_error("a = 1\na = 1\n", NAME ":2: duplicate key 'a' in the top-level table, first "
                                            "set on line 1");
        expect_error("a = 1\n\"a\" = 2\n", NAME ":2: duplicate key 'a' in the top-level table, "
                                                "first set on line 1");
        expect_error("a = 1\n'a' = 2\n", NAME ":2: duplicate key 'a' in the top-level table, "
                                              "first set on line 1");
        expect_error("x.y = 1\nx.y = 2\n", NAME ":2: duplicate key 'y' in table [x], first set "
                                                "on line 1");
        expect_error("[[r]]\nh = 1\nh = 2\n", NAME ":3: duplicate key 'h' in table [[r]], first "
                                                   "set on line 2");
        expect_error("[r.\"a:1\"]\nh = 1\nh = 2\n", NAME ":3: duplicate key 'h' in table "
                                                         "[r.\"a:1\"], first set on line 2");
}

static void test_redefinitions(void **state)
{
        (void)state;
        /* A table defined twice, directly or as an implicit table defined twice. */
        expect_error("[a]\nx = 1\n[b]\n[a]\n", NAME ":4: table [a] is defined twice, first on "
                                                    "line 1");
        expect_error("[a.b]\n[a]\n[a]\n", NAME ":3: table [a] is defined twice, first on line 2");
        expect_error("[a]\n[ \"a\" ]\n", NAME ":2: table [a] is defined twice, first on line 1");
        expect_error("[a.\"b.c\"]\n[a.'b.c']\n", NAME ":2: table [a.\"b.c\"] is defined twice, "
                                                      "first on line 1");
        /* A key that is both a value and a table. */
        expect_error("a = 1\n[a]\n", NAME ":2: cannot define table [a]: key 'a' in the "
                                          "top-level table is already an integer, set on line 1");
        expect_error("a = 'x'\n[a.b]\n", NAME ":2: cannot define table [a.b]: key 'a' in the "
                                              "top-level table is already a string, set on line 1");
        expect_error("[t]\na = []\n[[t.a]]\n",
                     NAME ":3: cannot define array of tables [[t.a]]: "
                          "key 'a' in table [t] is already an array, set on "
                          "line 2");
        expect_error("[a.b]\n[a]\nb = 1\n", NAME ":3: key 'b' in table [a] is already a table, "
                                                 "defined on line 1");
        expect_error("[[a.b]]\n[a]\nb = 1\n", NAME ":3: key 'b' in table [a] is already an array "
                                                   "of tables, defined on line 1");
        expect_error("a.b = 1\na = 2\n", NAME ":2: key 'a' in the top-level table is already a "
                                              "table, defined on line 1");
        expect_error("a.b = 1\na.b.c = 2\n", NAME ":2: key 'b' in table [a] is already an "
                                                  "integer, set on line 1, not a table");
        /* Tables vs arrays of tables. */
        expect_error("[a]\n[[a]]\n", NAME ":2: cannot define array of tables [[a]]: table [a] is "
                                          "already a table, defined on line 1");
        expect_error("[[a]]\n[a]\n", NAME ":2: cannot define table [a]: it is already an array of "
                                          "tables, first on line 1");
        /* Dotted keys and headers (TOML 1.0 "Table"). */
        expect_error("a.b = 1\n[a]\n", NAME ":2: cannot define table [a]: it is already defined "
                                            "by dotted keys on line 1");
        expect_error("[fruit]\napple.color = 'red'\n[fruit.apple]\n",
                     NAME ":3: cannot define table [fruit.apple]: it is already defined by dotted "
                          "keys on line 2");
        expect_error("[a.b]\nx = 1\n[a]\nb.y = 2\n", NAME ":4: dotted keys cannot add to table "
                                                          "[a.b], defined on line 1");
        expect_error("[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n", NAME ":4: dotted keys cannot add to "
                                                              "table [a.b], defined on line 1");
        expect_error("[[a.b]]\n[a]\nb.x = 1\n", NAME ":3: dotted keys cannot add to the array of "
                                                     "tables [[a.b]] of line 1");
}

static void test_utf8(void **state)
{
#define T(s) s, sizeof(s) - 1
        static const struct {
                const char *text;
                size_t len;
                const char *msg;
        } cases[] = {
            {T("a = 1\nb = \"x\xffy\"\n"), NAME ":2: invalid UTF-8"},
            {T("a = 1\n\n# comment \xc3\n"), NAME ":3: invalid UTF-8"},
            {T("\xc0\xaf = 1\n"), NAME ":1: invalid UTF-8"},               /* overlong '/' */
            {T("a = '\xe0\x80\xaf'\n"), NAME ":1: invalid UTF-8"},         /* overlong */
            {T("a = '\xed\xa0\x80'\n"), NAME ":1: invalid UTF-8"},         /* surrogate */
            {T("a = '\xf4\x90\x80\x80'\n"), NAME ":1: invalid UTF-8"},     /* > U+10FFFF */
            {T("a = '\xf8\x88\x80\x80\x80'\n"), NAME ":1: invalid UTF-8"}, /* 5 bytes */
            {T("a = '\x80'\n"), NAME ":1: invalid UTF-8"},                 /* continuation */
            {T("a = 'x'\n\n\n\xe2\x82"), NAME ":4: invalid UTF-8"},        /* truncated */
            /* The first bad byte decides, even before a syntax error. */
            {T("= = =\n\xff"), NAME ":2: invalid UTF-8"},
            {T("a = 1\nb = \"x\0y\"\n"), NAME ":2: NUL byte"},
            {T("\0"), NAME ":1: NUL byte"},
            {T("# x\n\n\n\n# y\0\n"), NAME ":5: NUL byte"},
            {T("a = 'x'\n\0"), NAME ":2: NUL byte"},
        };
#undef T
        size_t i;

        (void)state;
        for (i = 0; i < ARRAY_SIZE(cases); i++)
                expect_error_len(cases[i].text, cases[i].len, cases[i].msg);
}

static void test_depth(void **state)
{
        _cleanup_(bx_buf_release) struct bx_buf b = BX_BUF_INIT(0);
        _cleanup_toml_ struct bx_toml *doc = NULL;
        const struct bx_toml_table *t;
        size_t i;

        (void)state;
        /* 32 parts is fine... */
        bx_buf_adds(&b, "[p0");
        for (i = 1; i < BX_TOML_MAX_DEPTH; i++)
                bx_buf_addf(&b, ".p%zu", i);
        bx_buf_adds(&b, "]\nx = 1\n");
        doc = parse(b.buf);
        t = bx_toml_root(doc);
        for (i = 0; i < BX_TOML_MAX_DEPTH; i++) {
                char key[16];

                snprintf(key, sizeof(key), "p%zu", i);
                t = sub(t, key);
        }
        assert_int_equal(num(t, "x"), 1);
        /* ...33 is not, for headers, */
        bx_buf_reset(&b);
        bx_buf_adds(&b, "\n[a");
        for (i = 1; i <= BX_TOML_MAX_DEPTH; i++)
                bx_buf_adds(&b, ".a");
        bx_buf_adds(&b, "]\n");
        expect_error(b.buf, NAME ":2: keys and table names of more than 32 parts are not "
                                 "supported");
        /* dotted keys, */
        bx_buf_reset(&b);
        bx_buf_adds(&b, "a");
        for (i = 1; i <= BX_TOML_MAX_DEPTH; i++)
                bx_buf_adds(&b, ".a");
        bx_buf_adds(&b, " = 1\n");
        expect_error(b.buf, NAME ":1: keys and table names of more than 32 parts are not "
                                 "supported");
        /* and both together. */
        bx_buf_reset(&b);
        bx_buf_adds(&b, "[a");
        for (i = 1; i < 20; i++)
                bx_buf_adds(&b, ".a");
        bx_buf_adds(&b, "]\nb");
        for (i = 1; i < 20; i++)
                bx_buf_adds(&b, ".b");
        bx_buf_adds(&b, " = 1\n");
        expect_error(b.buf, NAME ":2: tables nested more than 32 levels deep are not supported");
}

static void test_parse_file(void **state)
{
        _cleanup_toml_ struct bx_toml *doc = NULL;
        _cleanup_error_ struct bx_error *err = NULL;
        _cleanup_free_ char *big = NULL;
        char path[] = "/tmp/test-toml-XXXXXX";
        const char text[] = "[builder]\nimage = 'x'\nimage = 'y'\n";
        int fd;

        (void)state;
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(bx_write_all(fd, "[builder]\nimage = 'x'\n", 22), 0);
        close(fd);
        assert_int_equal(bx_toml_parse_file(path, &doc, &err), 0);
        assert_string_equal(bx_toml_name(doc), path);
        assert_string_equal(str(sub(bx_toml_root(doc), "builder"), "image"), "x");
        doc = bx_toml_free(doc);

        /* Messages carry the path. */
        assert_int_equal(bx_write_file(path, text, strlen(text), 0600, &err), 0);
        assert_int_equal(bx_toml_parse_file(path, &doc, &err), -1);
        assert_null(doc);
        assert_true(bx_startswith(err->msg, path));
        assert_string_equal(err->msg + strlen(path), ":3: duplicate key 'image' in table "
                                                     "[builder], first set on line 2");
        bx_error_clear(&err);

        /* 2 MiB is too big. */
        big = malloc(2 * 1024 * 1024);
        assert_non_null(big);
        memset(big, '#', 2 * 1024 * 1024);
        assert_int_equal(bx_write_file(path, big, 2 * 1024 * 1024, 0600, &err), 0);
        assert_int_equal(bx_toml_parse_file(path, &doc, &err), -1);
        assert_null(doc);
        assert_non_null(strstr(err->msg, path));
        assert_non_null(strstr(err->msg, "larger than"));
        bx_error_clear(&err);
        /* Exactly the limit is fine. */
        assert_int_equal(bx_write_file(path, big, BX_TOML_MAX_SIZE, 0600, &err), 0);
        assert_int_equal(bx_toml_parse_file(path, &doc, &err), 0);
        doc = bx_toml_free(doc);
        assert_int_equal(unlink(path), 0);

        /* And so is a 2 MiB string. */
        expect_error_len(big, 2 * 1024 * 1024, NAME ": larger than 1048576 bytes (1 MiB)");
        expect_error_len(big, BX_TOML_MAX_SIZE + 1, NAME ": larger than 1048576 bytes (1 MiB)");

        assert_int_equal(bx_toml_parse_file(path, &doc, &err), -1);
        assert_null(doc);
        assert_int_equal(err->errnum, ENOENT);
        assert_non_null(strstr(err->msg, path));
}

static double cpu_seconds(clock_t since)
{
        return (double)(clock() - since) / CLOCKS_PER_SEC;
}

/*
 * Hostile input: big, wide and deep documents parse (or fail) in about linear
 * time without crashing.  Quadratic behaviour on these inputs takes minutes,
 * the generous CPU bounds only catch that.
 */
static void test_hostile(void **state)
{
        _cleanup_(bx_buf_release) struct bx_buf b = BX_BUF_INIT(0);
        _cleanup_toml_ struct bx_toml *doc = NULL;
        const struct bx_toml_table *root;
        const struct bx_toml_entry *e;
        clock_t start;
        size_t n, i;

        (void)state;
        /* One string of almost 1 MiB on one line, with escapes. */
        start = clock();
        n = (BX_TOML_MAX_SIZE - 64) / 9;
        bx_buf_adds(&b, "s = \"");
        for (i = 0; i < n; i++)
                bx_buf_adds(&b, "abc\\u00e9");
        bx_buf_adds(&b, "\"\n");
        assert_true(b.len <= BX_TOML_MAX_SIZE);
        doc = parse_len(b.buf, b.len);
        assert_int_equal(strlen(str(bx_toml_root(doc), "s")), n * 5);
        doc = bx_toml_free(doc);
        /* The same unterminated, and as a multi-line string. */
        b.len -= 2;
        expect_error_len(b.buf, b.len, NAME ":1: unterminated string at end of file");
        b.buf[5] = b.buf[6] = '"';
        expect_error_len(b.buf, b.len, NAME ":1: unterminated multi-line string");
        bx_buf_adds(&b, "\"\"\"");
        doc = parse_len(b.buf, b.len);
        assert_int_equal(strlen(str(bx_toml_root(doc), "s")), n * 5 - 2);
        doc = bx_toml_free(doc);
        assert_true(cpu_seconds(start) < 10);

        /* A header with a huge number of parts fails at the limit. */
        start = clock();
        bx_buf_reset(&b);
        bx_buf_adds(&b, "[a");
        while (b.len < BX_TOML_MAX_SIZE - 4)
                bx_buf_adds(&b, ".a");
        bx_buf_adds(&b, "]\n");
        expect_error_len(b.buf, b.len,
                         NAME ":1: keys and table names of more than 32 parts are "
                              "not supported");
        /* So does an array of arrays of ... */
        memset(b.buf, '[', b.len);
        memcpy(b.buf, "a = ", 4);
        expect_error_len(b.buf, b.len, NAME ":1: nested arrays are not supported");
        assert_true(cpu_seconds(start) < 10);

        /* 70k keys in one table: lookups must not be linear. */
        start = clock();
        bx_buf_reset(&b);
        for (i = 0; i < 70000; i++)
                bx_buf_addf(&b, "k%zu=%zu\n", i, i);
        doc = parse_len(b.buf, b.len);
        root = bx_toml_root(doc);
        assert_int_equal(bx_toml_table_size(root), 70000);
        assert_int_equal(num(root, "k69999"), 69999);
        e = bx_toml_table_at(root, 54321);
        assert_string_equal(bx_toml_entry_key(e), "k54321");
        assert_int_equal(bx_toml_entry_line(e), 54322);
        doc = bx_toml_free(doc);
        bx_buf_adds(&b, "k5=1\n");
        expect_error_len(b.buf, b.len,
                         NAME ":70001: duplicate key 'k5' in the top-level table, "
                              "first set on line 6");
        assert_true(cpu_seconds(start) < 10);

        /* 40k tables, each 8 levels deep, and 60k array items. */
        start = clock();
        bx_buf_reset(&b);
        for (i = 0; i < 40000; i++)
                bx_buf_addf(&b, "[t.a.b.c.d.e.f.x%zu]\n", i);
        doc = parse_len(b.buf, b.len);
        doc = bx_toml_free(doc);
        bx_buf_reset(&b);
        bx_buf_adds(&b, "a = [\n");
        for (i = 0; i < 60000; i++)
                bx_buf_addf(&b, "  %zu,\n", i);
        bx_buf_adds(&b, "]\n[[t]]\n[[t]]\n[[t]]\n");
        doc = parse_len(b.buf, b.len);
        e = get(bx_toml_root(doc), "a");
        assert_int_equal(bx_toml_entry_size(e), 60000);
        assert_int_equal(bx_toml_entry_line(bx_toml_entry_at(e, 59999)), 60001);
        assert_int_equal(bx_toml_entry_size(get(bx_toml_root(doc), "t")), 3);
        doc = bx_toml_free(doc);
        /* 170k [[elements]] */
        bx_buf_reset(&b);
        for (i = 0; i < 170000; i++)
                bx_buf_adds(&b, "[[t]]\n");
        doc = parse_len(b.buf, b.len);
        assert_int_equal(bx_toml_entry_size(get(bx_toml_root(doc), "t")), 170000);
        assert_true(cpu_seconds(start) < 10);

        /* A huge key, used as a table name twice: the message names it. */
        bx_buf_reset(&b);
        bx_buf_adds(&b, "[\"");
        for (i = 0; i < 100000; i++)
                bx_buf_addch(&b, 'k');
        bx_buf_adds(&b, "\".a.b.c]\nx = 1\n");
        bx_buf_add(&b, b.buf, b.len);
        expect_error_len(b.buf, b.len, NAME ":1: keys longer than 1024 bytes are not supported");
        bx_buf_reset(&b);
        bx_buf_adds(&b, "\n\n");
        for (i = 0; i < BX_TOML_MAX_KEY + 1; i++)
                bx_buf_addch(&b, 'k');
        bx_buf_adds(&b, " = 1\n");
        expect_error_len(b.buf, b.len, NAME ":3: keys longer than 1024 bytes are not supported");
        b.buf[2 + BX_TOML_MAX_KEY] = ' '; /* exactly the limit is fine */
        doc = bx_toml_free(doc);
        doc = parse_len(b.buf, b.len);
        assert_int_equal(bx_toml_table_size(bx_toml_root(doc)), 1);
}

int main(void)
{
        /* clang-format off */
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_scalars),
                cmocka_unit_test(test_escapes),
                cmocka_unit_test(test_multiline_strings),
                cmocka_unit_test(test_tables),
                cmocka_unit_test(test_dotted_keys),
                cmocka_unit_test(test_table_arrays),
                cmocka_unit_test(test_arrays),
                cmocka_unit_test(test_crlf),
                cmocka_unit_test(test_comments_everywhere),
                cmocka_unit_test(test_bom),
                cmocka_unit_test(test_getters),
                cmocka_unit_test(test_entry_error),
                cmocka_unit_test(test_settings_walk),
                cmocka_unit_test(test_syntax_errors),
                cmocka_unit_test(test_bare_keys),
                cmocka_unit_test(test_string_errors),
                cmocka_unit_test(test_number_errors),
                cmocka_unit_test(test_unsupported),
                cmocka_unit_test(test_duplicates),
                cmocka_unit_test(test_redefinitions),
                cmocka_unit_test(test_utf8),
                cmocka_unit_test(test_depth),
                cmocka_unit_test(test_parse_file),
                cmocka_unit_test(test_hostile),
        };
        /* clang-format on */

        return cmocka_run_group_tests(tests, NULL, NULL);
}
