// The gateway's configuration: defaults, every key read, and errors that name the key.
#include <gtest/gtest.h>

#include "airlock/gateway/config.h"

namespace airlock::gateway {
namespace {

TEST(GatewayConfig, EmptyFileKeepsTheEmbeddedDefaults) {
  runtime::Result<Config> config = parse_config("", "airlock.yaml");
  ASSERT_TRUE(config) << config.message();
  EXPECT_EQ(config->listen, "127.0.0.1:8080");
  EXPECT_EQ(config->data_dir, "./airlock-data");
  EXPECT_EQ(config->policies_dir, "policies");
  EXPECT_FALSE(config->tls.enabled());
  EXPECT_TRUE(config->tokens.empty());
}

TEST(GatewayConfig, ReadsEveryDocumentedKey) {
  runtime::Result<Config> config = parse_config(R"(
listen: "0.0.0.0:8443"
tls: {cert: /etc/airlock/tls.crt, key: /etc/airlock/tls.key}
data_dir: /var/lib/airlock
policies_dir: /etc/airlock/policies
limits:
  max_upload_size: 20 GiB
  max_header_bytes: 32 KiB
  max_chunk_bytes: 64MiB
  max_json_body_bytes: 2 MiB
  idle_timeout: 2m
  min_rate_bytes_per_second: 4 KiB
  min_rate_grace: 15s
  max_concurrent_uploads_per_user: 3
upload_expiry: 2d
denied_retention: 90d
cleanup_interval: 30s
shutdown_grace: 45s
clamd: {socket: /run/clamav/clamd.ctl}
tokens:
  - {token: abcdefghijklmnopqrstuvwxyz, user: alice, roles: [researcher]}
  - {token: ABCDEFGHIJKLMNOPQRSTUVWXYZ, user: bob, roles: [data-approver, researcher]}
log: {level: debug, format: text}
threads: 4
)",
                                                "airlock.yaml");
  ASSERT_TRUE(config) << config.message();
  EXPECT_EQ(config->listen, "0.0.0.0:8443");
  EXPECT_TRUE(config->tls.enabled());
  EXPECT_EQ(config->tls.key, "/etc/airlock/tls.key");
  EXPECT_EQ(config->limits.max_upload_size, 20ull << 30);
  EXPECT_EQ(config->limits.max_header_bytes, 32u << 10);
  EXPECT_EQ(config->limits.max_chunk_bytes, 64ull << 20);
  EXPECT_EQ(config->limits.max_json_body_bytes, 2ull << 20);
  EXPECT_EQ(config->limits.idle_timeout, std::chrono::seconds(120));
  EXPECT_EQ(config->limits.min_rate_bytes_per_second, 4096u);
  EXPECT_EQ(config->limits.min_rate_grace, std::chrono::seconds(15));
  EXPECT_EQ(config->limits.max_concurrent_uploads_per_user, 3u);
  EXPECT_EQ(config->upload_expiry, std::chrono::seconds(2 * 86400));
  EXPECT_EQ(config->denied_retention, std::chrono::seconds(90 * 86400));
  EXPECT_EQ(config->cleanup_interval, std::chrono::seconds(30));
  EXPECT_EQ(config->shutdown_grace, std::chrono::seconds(45));
  EXPECT_EQ(config->clamd_socket, "/run/clamav/clamd.ctl");
  ASSERT_EQ(config->tokens.size(), 2u);
  EXPECT_EQ(config->tokens[1].user, "bob");
  EXPECT_EQ(config->tokens[1].roles, (std::vector<std::string>{"data-approver", "researcher"}));
  EXPECT_EQ(config->log.level, "debug");
  EXPECT_EQ(config->log.format, "text");
  EXPECT_EQ(config->threads, 4u);
}

TEST(GatewayConfig, UnknownKeyIsAnErrorThatNamesIt) {
  runtime::Result<Config> config = parse_config("limits:\n  max_uplaod_size: 1 GiB\n", "airlock.yaml");
  ASSERT_FALSE(config);
  EXPECT_NE(config.message().find("unknown key `limits.max_uplaod_size`"), std::string::npos) << config.message();
  EXPECT_NE(config.message().find("airlock.yaml"), std::string::npos);
}

TEST(GatewayConfig, BadValuesAreErrorsThatNameTheKey) {
  struct Case {
    std::string yaml;
    std::string key;
  };
  std::vector<Case> cases = {
      {"listen: localhost\n", "`listen`"},
      {"listen: 127.0.0.1:99999\n", "`listen`"},
      {"limits: {max_upload_size: 10 GB2}\n", "`limits.max_upload_size`"},
      {"limits: {idle_timeout: 5 weeks}\n", "`limits.idle_timeout`"},
      {"limits: {max_concurrent_uploads_per_user: 0}\n", "`limits.max_concurrent_uploads_per_user`"},
      {"tls: {cert: a.pem}\n", "`tls.key`"},
      {"tokens: [{token: short, user: a}]\n", "`tokens[0].token`"},
      {"tokens: [{token: abcdefghijklmnopqrstuvwxyz}]\n", "`tokens[0].user`"},
      {"log: {level: loud}\n", "`log.level`"},
      {"log: {format: xml}\n", "`log.format`"},
      {"threads: 0\n", "`threads`"},
  };
  for (const Case& c : cases) {
    runtime::Result<Config> config = parse_config(c.yaml, "airlock.yaml");
    ASSERT_FALSE(config) << c.yaml;
    EXPECT_NE(config.message().find(c.key), std::string::npos) << c.yaml << " -> " << config.message();
  }
}

TEST(GatewayConfig, InvalidYamlNamesTheLine) {
  runtime::Result<Config> config = parse_config("listen: \"127.0.0.1:1\ndata_dir: [\n", "bad.yaml");
  ASSERT_FALSE(config);
  EXPECT_NE(config.message().find("bad.yaml:"), std::string::npos) << config.message();
}

TEST(GatewayConfig, SizesAndDurationsTakeUnits) {
  EXPECT_EQ(*parse_size("1000"), 1000u);
  EXPECT_EQ(*parse_size("5 MiB"), 5u << 20);
  EXPECT_EQ(*parse_size("2GB"), 2'000'000'000u);
  EXPECT_FALSE(parse_size("lots"));
  EXPECT_FALSE(parse_size("99999999999 TiB"));
  EXPECT_EQ(*parse_duration("90"), std::chrono::seconds(90));
  EXPECT_EQ(*parse_duration("3h"), std::chrono::seconds(3 * 3600));
  EXPECT_FALSE(parse_duration("3y"));
}

TEST(GatewayConfig, ListenAddressesSplitHostAndPort) {
  runtime::Result<ListenAddress> v4 = parse_listen_address("127.0.0.1:0");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 0);
  runtime::Result<ListenAddress> v6 = parse_listen_address("[::1]:8443");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8443);
  EXPECT_FALSE(parse_listen_address("8080"));
}

}  // namespace
}  // namespace airlock::gateway
