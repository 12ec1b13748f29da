/*
 * test_cli.c - CLI formatting (human sizes and times, RFC 3339 parsing, tables) and the
 * client's OLLAMA_HOST -> URL rule.  The human-format cases are those of Ollama's
 * format/bytes_test.go, format/format_test.go and format/time_test.go; the table cases follow
 * tablewriter v0.0.5 as Ollama configures it (cmd/cmd.go ListHandler, showInfo).
 */
#include "harness/test.h"

#include "api/api_model.h"
#include "cli/cli_client.h"
#include "cli/cli_fmt.h"

TEST(cli_human_bytes_like_ollama)
{
    static const struct {
        uint64_t n;
        const char *want;
    } cases[] = {
        {0, "0 B"},
        {1, "1 B"},
        {999, "999 B"},
        {1000, "1 KB"},
        {1500, "1.5 KB"},
        {999999, "999 KB"},
        {1000000, "1 MB"},
        {1500000, "1.5 MB"},
        {999999999, "999 MB"},
        {1000000000, "1 GB"},
        {1500000000, "1.5 GB"},
        {999999999999ull, "999 GB"},
        {1000000000000ull, "1 TB"},
        {1500000000000ull, "1.5 TB"},
        {1999999999999ull, "2.0 TB"},
        {1234, "1.2 KB"},
        {1234567, "1.2 MB"},
        {1234567890, "1.2 GB"},
        {1185637, "1.2 MB"},
        {2019393189, "2.0 GB"},
        {3000000000ull, "3 GB"},
    };
    char s[32];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cli_human_bytes(cases[i].n, s, sizeof(s));
        ASSERT_EQ_STR(s, cases[i].want);
    }
}

TEST(api_human_number_like_ollama)
{
    static const struct {
        uint64_t n;
        const char *want;
    } cases[] = {
        {0, "0"},
        {999, "999"},
        {1000, "1K"},
        {1001, "1K"},
        {1000000, "1M"},
        {125000000, "125M"},
        {500500000, "500.50M"},
        {500550000, "500.55M"},
        {1000000000, "1B"},
        {2800000000ull, "2.8B"},
        {2850000000ull, "2.9B"},
        {1000000000000ull, "1000B"},
        {292352, "292K"},
        {8030261248ull, "8.0B"},
    };
    char s[32];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        api_human_number(cases[i].n, s, sizeof(s));
        ASSERT_EQ_STR(s, cases[i].want);
    }
}

TEST(cli_human_time_like_ollama)
{
    char s[64];
    time_t now = 1700000000;
    cli_human_time(now, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "Less than a second ago");
    cli_human_time(now - 1, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "1 second ago");
    cli_human_time(now - 120, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "2 minutes ago");
    cli_human_time(now - 70, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "About a minute ago");
    cli_human_time(now - 3600 - 1700, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "About an hour ago"); /* hours are rounded */
    cli_human_time(now - 3600 - 1800, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "2 hours ago");
    cli_human_time(now - 3 * 3600, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "3 hours ago");
    cli_human_time(now - 28 * 86400, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "4 weeks ago");
    cli_human_time(now - 90 * 86400, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "3 months ago");
    cli_human_time(now - 3L * 365 * 86400, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "3 years ago");
    cli_human_time(now + 240, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "4 minutes from now");
    /* format/time_test.go */
    cli_human_time(now + 48 * 3600, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "2 days from now");
    cli_human_time(now - 48 * 3600, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "2 days ago");
    cli_human_time(now + 200LL * 365 * 86400, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "Forever");
    cli_human_time(now + 20LL * 365 * 86400, now, s, sizeof(s));
    ASSERT_EQ_STR(s, "20 years from now");
    cli_human_time_str("0001-01-01T00:00:00Z", "never", now, s, sizeof(s));
    ASSERT_EQ_STR(s, "never");
    cli_human_time_str("", "Never", now, s, sizeof(s));
    ASSERT_EQ_STR(s, "Never");
    cli_human_time_str("2023-11-14T22:11:20Z", "Never", now, s, sizeof(s));
    ASSERT_EQ_STR(s, "2 minutes ago");
}

TEST(cli_go_float_like_fmt_v)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {2048, "2048"},
        {0.5, "0.5"},
        {999999, "999999"},
        {1e6, "1e+06"},
        {1234567, "1.234567e+06"},
        {1e-05, "1e-05"},
        {0.0001, "0.0001"},
        {-3, "-3"},
        {0, "0"},
        {9.999999747378752e-06, "9.999999747378752e-06"},
        {500000, "500000"},
        {0.1, "0.1"},
        {128256, "128256"},
    };
    char s[64];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cli_go_float(cases[i].v, s, sizeof(s));
        ASSERT_EQ_STR(s, cases[i].want);
    }
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
    /* envconfig TestHost cases the client sees */
    ASSERT_OK(cli_base_url("https://example.com/ollama", u, sizeof(u)));
    ASSERT_EQ_STR(u, "https://example.com:443/ollama");
    ASSERT_OK(cli_base_url("ollama.com", u, sizeof(u)));
    ASSERT_EQ_STR(u, "https://ollama.com:443");
    ASSERT_OK(cli_base_url("::1", u, sizeof(u)));
    ASSERT_EQ_STR(u, "http://[::1]:11434");
    ASSERT_OK(cli_base_url("[::1]", u, sizeof(u)));
    ASSERT_EQ_STR(u, "http://[::1]:11434");
    ASSERT_OK(cli_base_url(" \" 1.2.3.4 \" ", u, sizeof(u)));
    ASSERT_EQ_STR(u, "http://1.2.3.4:11434");
    ASSERT_OK(cli_base_url("http://1.2.3.4", u, sizeof(u)));
    ASSERT_EQ_STR(u, "http://1.2.3.4:80");
    ASSERT_OK(cli_base_url(":66000", u, sizeof(u)));
    ASSERT_EQ_STR(u, "http://127.0.0.1:11434");
}

static char *render(struct cli_table *t)
{
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    cli_table_print(t, f);
    fclose(f);
    cli_table_fini(t);
    return out;
}

TEST(cli_table_pads_columns)
{
    struct cli_table t;
    const char *a[2] = {"NAME", "ID"}, *b[2] = {"stories:latest", "abc"};
    char *out;
    cli_table_init(&t, 2);
    t.header = 1;
    ASSERT_OK(cli_table_add(&t, a));
    ASSERT_OK(cli_table_add(&t, b));
    out = render(&t);
    /* every cell padded to its column and followed by four spaces; the header's last by one */
    ASSERT_EQ_STR(out, "NAME              ID  \nstories:latest    abc    \n");
    free(out);
}

TEST(cli_table_show_rows_and_short_rows)
{
    struct cli_table t;
    const char *r1[3] = {"", "architecture", "llama"}, *r2[3] = {"", "parameters", "292K"};
    const char *r3[2] = {"", "completion"};
    char *out;
    cli_table_init(&t, 3);
    ASSERT_OK(cli_table_add(&t, r1));
    ASSERT_OK(cli_table_add(&t, r2));
    ASSERT_OK(cli_table_add_n(&t, r3, 2));
    out = render(&t);
    ASSERT_EQ_STR(out, "    architecture    llama    \n"
                       "    parameters      292K     \n"
                       "    completion      \n");
    free(out);
}

TEST(cli_table_wraps_long_cells)
{
    struct cli_table t;
    const char *r1[2] = {"", "the quick brown fox jumps over the lazy dog again"};
    const char *r2[2] = {"", "averyveryveryverylongwordthatcannotbebrokenanywhere ok"};
    char *out;
    cli_table_init(&t, 2);
    ASSERT_OK(cli_table_add(&t, r1));
    out = render(&t);
    /* 49 columns > 30: minimal raggedness within 30; the empty first cell has one line, so
     * tablewriter fills it with two spaces on the second */
    ASSERT_EQ_STR(out, "    the quick brown fox jumps over    \n"
                       "      the lazy dog again                \n");
    free(out);
    cli_table_init(&t, 2);
    ASSERT_OK(cli_table_add(&t, r2));
    out = render(&t);
    /* a word longer than the limit widens it */
    ASSERT_EQ_STR(out, "    averyveryveryverylongwordthatcannotbebrokenanywhere    \n"
                       "      ok                                                     \n");
    free(out);
}
