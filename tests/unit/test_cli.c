/*
 * test_cli.c - CLI formatting (human sizes and times, RFC 3339 parsing, tables) and the
 * client's OLLAMA_HOST -> URL rule.
 */
#include "harness/test.h"

#include "cli/cli_client.h"
#include "cli/cli_fmt.h"

TEST(cli_human_bytes_like_ollama)
{
    char s[32];
    cli_human_bytes(68, s, sizeof(s));
    ASSERT_EQ_STR(s, "68 B");
    cli_human_bytes(1500, s, sizeof(s));
    ASSERT_EQ_STR(s, "1.5 KB");
    cli_human_bytes(1185637, s, sizeof(s));
    ASSERT_EQ_STR(s, "1.2 MB");
    cli_human_bytes(986000000, s, sizeof(s));
    ASSERT_EQ_STR(s, "986 MB");
    cli_human_bytes(2019393189, s, sizeof(s));
    ASSERT_EQ_STR(s, "2.0 GB");
    cli_human_bytes(3000000000ull, s, sizeof(s));
    ASSERT_EQ_STR(s, "3 GB");
}

TEST(cli_human_time_like_ollama)
{
    char s[64];
    time_t now = 1700000000;
    cli_human_time(now, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "Less than a second ago");
    cli_human_time(now - 120, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "2 minutes ago");
    cli_human_time(now - 70, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "About a minute ago");
    cli_human_time(now - 3 * 3600, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "3 hours ago");
    cli_human_time(now - 28 * 86400, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "4 weeks ago");
    cli_human_time(now + 240, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "4 minutes from now");
}

TEST(cli_parse_rfc3339)
{
    time_t t = 0;
    ASSERT_OK(cli_parse_time("2024-06-04T14:40:00.83753Z", &t));
    ASSERT_EQ_INT(t, 1717512000);
    ASSERT_OK(cli_parse_time("2024-06-04T07:40:00-07:00", &t));
    ASSERT_EQ_INT(t, 1717512000);
    ASSERT_EQ_INT(cli_parse_time("yesterday", &t), E_PARSE);
}

TEST(cli_base_url_from_ollama_host)
{
    char u[256];
    ASSERT_OK(cli_base_url(NULL, u, sizeof(u)));
    ASSERT_EQ_STR(u, "http://127.0.0.1:11434");
    ASSERT_OK(cli_base_url("0.0.0.0:1234", u, sizeof(u)));
    ASSERT_EQ_STR(u, "http://127.0.0.1:1234");
    ASSERT_OK(cli_base_url(":5555", u, sizeof(u)));
    ASSERT_EQ_STR(u, "http://127.0.0.1:5555");
    ASSERT_OK(cli_base_url("https://remote.example", u, sizeof(u)));
    ASSERT_EQ_STR(u, "https://remote.example:443");
    ASSERT_OK(cli_base_url("[::1]:9", u, sizeof(u)));
    ASSERT_EQ_STR(u, "http://[::1]:9");
}

TEST(cli_table_pads_columns)
{
    struct cli_table t;
    const char *a[2] = {"NAME", "ID"}, *b[2] = {"stories:latest", "abc"};
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    cli_table_init(&t, 2);
    ASSERT_OK(cli_table_add(&t, a));
    ASSERT_OK(cli_table_add(&t, b));
    cli_table_print(&t, f, NULL);
    fclose(f);
    ASSERT_EQ_STR(out, "NAME              ID\nstories:latest    abc\n");
    free(out);
    cli_table_fini(&t);
}
