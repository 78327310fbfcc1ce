// tus 1.0.0 against the real gateway with curl: the core protocol, its extensions, its errors, and the
// policies deciding (early and at the end).
#include <gtest/gtest.h>

#include "gateway_process.h"

namespace airlock::testing {
namespace {

class Tus : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gateway_ = new GatewayProcess();
    gateway_->start();
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "gateway log:\n" << gateway_->log();
  }
  std::string file(const std::string& name, const std::string& bytes) {
    return write_file(gateway_->root() + "/" + name, bytes);
  }
  std::string create(const std::string& length, const std::string& name, const std::string& type = "text/csv") {
    HttpResult created = create_upload(*gateway_, kAliceToken, length, metadata(name, type));
    EXPECT_EQ(created.status, 201) << created.body;
    return created.header("location");
  }
  nlohmann::json transfer(const std::string& location, const char* token = kAliceToken) {
    std::string id = location.substr(std::string("/files/").size());
    return curl(join(auth(token), {gateway_->url("/api/v1/transfers/" + id)})).json();
  }
  static GatewayProcess* gateway_;
};
GatewayProcess* Tus::gateway_ = nullptr;

TEST_F(Tus, OptionsAdvertisesVersionExtensionsAndChecksums) {
  HttpResult options = curl(join(auth(kAliceToken), {"-X", "OPTIONS", gateway_->url("/files")}));
  EXPECT_EQ(options.status, 204);
  EXPECT_EQ(options.header("tus-version"), "1.0.0");
  EXPECT_EQ(options.header("tus-extension"),
            "creation,creation-with-upload,creation-defer-length,termination,checksum,expiration");
  EXPECT_EQ(options.header("tus-checksum-algorithm"), "sha256,sha1");
  EXPECT_EQ(options.header("tus-max-size"), std::to_string(16ull << 30));
}

TEST_F(Tus, CreateThenPatchReleasesACleanCsvAndHeadReportsTheOffset) {
  std::string bytes = "practice,count\nA81001,12\nA81002,40\n";
  std::string location = create(std::to_string(bytes.size()), "counts.csv");
  ASSERT_EQ(location.rfind("/files/", 0), 0u);
  HttpResult head = curl(join(auth(kAliceToken), {"-I", gateway_->url(location), "-H", "Tus-Resumable: 1.0.0"}));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("upload-offset"), "0");
  EXPECT_EQ(head.header("upload-length"), std::to_string(bytes.size()));
  EXPECT_EQ(head.header("cache-control"), "no-store");
  EXPECT_FALSE(head.header("upload-expires").empty());
  EXPECT_NE(head.header("upload-metadata").find("filename " + base64("counts.csv")), std::string::npos);

  HttpResult patched = patch_upload(*gateway_, kAliceToken, location, 0, file("counts.csv", bytes));
  EXPECT_EQ(patched.status, 204) << patched.body;
  EXPECT_EQ(patched.header("upload-offset"), std::to_string(bytes.size()));
  EXPECT_EQ(patched.header("airlock-decision"), "approve");
  EXPECT_EQ(patched.header("airlock-transfer-state"), "released");

  nlohmann::json stored = transfer(location);
  EXPECT_EQ(stored["state"], "released");
  std::string id = stored["id"];
  std::string released = gateway_->data_dir() + "/released/ds-test/" + id + "/counts.csv";
  EXPECT_EQ(read_text(released), bytes);
  EXPECT_EQ(stored["sha256"], sha256_of_file(released));
}

TEST_F(Tus, MissingTusResumableIs412) {
  HttpResult created = curl(join(auth(kAliceToken), {"-X", "POST", gateway_->url("/files"), "-H", "Upload-Length: 3",
                                                     "-H", "Upload-Metadata: " + metadata("a.csv")}));
  EXPECT_EQ(created.status, 412);
  EXPECT_EQ(created.header("tus-version"), "1.0.0");
  EXPECT_EQ(created.json()["error"], "precondition_failed");
}

TEST_F(Tus, WrongOffsetIs409AndNamesTheStoredOffset) {
  std::string location = create("10", "offset.csv");
  HttpResult patched = patch_upload(*gateway_, kAliceToken, location, 5, file("five.csv", "a,b\n1"));
  EXPECT_EQ(patched.status, 409);
  EXPECT_EQ(patched.json()["error"], "conflict");
  EXPECT_EQ(patched.header("upload-offset"), "0");
}

TEST_F(Tus, PatchWithoutOffsetOctetStreamIs415) {
  std::string location = create("4", "type.csv");
  HttpResult patched =
      curl(join(auth(kAliceToken), {"-X", "PATCH", gateway_->url(location), "-H", "Tus-Resumable: 1.0.0", "-H",
                                    "Upload-Offset: 0", "-H", "Content-Type: text/csv", "--data-binary", "a,b\n"}));
  EXPECT_EQ(patched.status, 415);
  EXPECT_EQ(patched.json()["error"], "unsupported_media_type");
}

TEST_F(Tus, UnknownUploadIs404) {
  HttpResult head = curl(join(auth(kAliceToken), {"-I", gateway_->url("/files/0123456789abcdef0123456789abcdef"), "-H",
                                                  "Tus-Resumable: 1.0.0"}));
  EXPECT_EQ(head.status, 404);
  HttpResult patched =
      patch_upload(*gateway_, kAliceToken, "/files/0123456789abcdef0123456789abcdef", 0, file("x.csv", "x"));
  EXPECT_EQ(patched.status, 404);
  EXPECT_EQ(patched.json()["error"], "not_found");
}

TEST_F(Tus, AnotherUsersUploadIsNotFound) {
  std::string location = create("4", "mine.csv");
  HttpResult head = curl(join(auth(kBobToken), {"-I", gateway_->url(location), "-H", "Tus-Resumable: 1.0.0"}));
  EXPECT_EQ(head.status, 404);
}

TEST_F(Tus, OversizeUploadIs413) {
  HttpResult created = create_upload(*gateway_, kAliceToken, std::to_string(17ull << 30), metadata("huge.csv"));
  EXPECT_EQ(created.status, 413);
  EXPECT_EQ(created.json()["error"], "too_large");
}

TEST_F(Tus, BytesPastUploadLengthAre413) {
  std::string location = create("3", "short.csv");
  HttpResult patched = patch_upload(*gateway_, kAliceToken, location, 0, file("long.csv", "a,b,c,d\n"));
  EXPECT_EQ(patched.status, 413);
}

TEST_F(Tus, BadChecksumIs460AndTheChunkIsDiscarded) {
  std::string bytes = "id,value\n1,2\n";
  std::string location = create(std::to_string(bytes.size()), "checked.csv");
  std::string path = file("checked.csv", bytes);
  std::string wrong = "sha256 " + base64(std::string(32, 'x'));
  HttpResult rejected = patch_upload(*gateway_, kAliceToken, location, 0, path, {"-H", "Upload-Checksum: " + wrong});
  EXPECT_EQ(rejected.status, 460);
  EXPECT_EQ(rejected.json()["error"], "checksum_mismatch");
  HttpResult head = curl(join(auth(kAliceToken), {"-I", gateway_->url(location), "-H", "Tus-Resumable: 1.0.0"}));
  EXPECT_EQ(head.header("upload-offset"), "0");

  auto [digest_hex, code] = run_command("openssl dgst -sha256 -binary " + shell_quote(path) + " | base64 -w0");
  ASSERT_EQ(code, 0);
  HttpResult accepted =
      patch_upload(*gateway_, kAliceToken, location, 0, path, {"-H", "Upload-Checksum: sha256 " + digest_hex});
  EXPECT_EQ(accepted.status, 204) << accepted.body;
  EXPECT_EQ(transfer(location)["sha256"], sha256_of_file(path));
}

TEST_F(Tus, UnsupportedChecksumAlgorithmIs400) {
  std::string location = create("3", "md5.csv");
  HttpResult patched = patch_upload(*gateway_, kAliceToken, location, 0, file("md5.csv", "a,b"),
                                    {"-H", "Upload-Checksum: md5 " + base64(std::string(16, 'x'))});
  EXPECT_EQ(patched.status, 400);
}

TEST_F(Tus, FilenamesThatArePathsOrHoldControlCharactersAreRefused) {
  for (const std::string& name : {std::string("../../etc/passwd"), std::string("a/b.csv"), std::string("..\\x.csv"),
                                  std::string("line\nbreak.csv"), std::string("bell\x07.csv"), std::string("..")}) {
    HttpResult created = create_upload(*gateway_, kAliceToken, "3", metadata(name));
    EXPECT_EQ(created.status, 400) << name;
    EXPECT_EQ(created.json()["error"], "invalid_metadata") << name;
  }
}

TEST_F(Tus, MalformedUploadMetadataIs400) {
  for (const std::string& bad : {std::string("filename not-base64!"), std::string("filename " + base64("a.csv") + ",,"),
                                 std::string("filename " + base64("a") + ",filename " + base64("b")),
                                 std::string("workspace " + base64("ws"))}) {
    HttpResult created = create_upload(*gateway_, kAliceToken, "3", bad);
    EXPECT_EQ(created.status, 400) << bad;
    EXPECT_EQ(created.json()["error"], "invalid_metadata") << bad;
  }
}

TEST_F(Tus, CreationWithUploadStoresTheFirstBytes) {
  std::string bytes = "x,y\n1,2\n";
  HttpResult created =
      curl(join(auth(kAliceToken),
                {"-X", "POST", gateway_->url("/files"), "-H", "Tus-Resumable: 1.0.0", "-H",
                 "Upload-Length: " + std::to_string(bytes.size() + 4), "-H", "Upload-Metadata: " + metadata("cwu.csv"),
                 "-H", "Content-Type: application/offset+octet-stream", "--data-binary", bytes}));
  EXPECT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.header("upload-offset"), std::to_string(bytes.size()));
  std::string location = created.header("location");
  HttpResult rest = patch_upload(*gateway_, kAliceToken, location, bytes.size(), file("rest.csv", "3,4\n"));
  EXPECT_EQ(rest.status, 204) << rest.body;
  EXPECT_EQ(rest.header("airlock-transfer-state"), "released");
}

TEST_F(Tus, DeferredLengthIsSetByALaterPatch) {
  HttpResult created =
      curl(join(auth(kAliceToken), {"-X", "POST", gateway_->url("/files"), "-H", "Tus-Resumable: 1.0.0", "-H",
                                    "Upload-Defer-Length: 1", "-H", "Upload-Metadata: " + metadata("deferred.csv")}));
  ASSERT_EQ(created.status, 201) << created.body;
  std::string location = created.header("location");
  HttpResult head = curl(join(auth(kAliceToken), {"-I", gateway_->url(location), "-H", "Tus-Resumable: 1.0.0"}));
  EXPECT_EQ(head.header("upload-defer-length"), "1");
  HttpResult first = patch_upload(*gateway_, kAliceToken, location, 0, file("d1.csv", "a,b\n"));
  EXPECT_EQ(first.status, 204) << first.body;
  HttpResult last =
      patch_upload(*gateway_, kAliceToken, location, 4, file("d2.csv", "1,2\n"), {"-H", "Upload-Length: 8"});
  EXPECT_EQ(last.status, 204) << last.body;
  EXPECT_EQ(last.header("airlock-transfer-state"), "released");
}

TEST_F(Tus, AnEmptyFileIsCompleteAtCreation) {
  HttpResult created = create_upload(*gateway_, kAliceToken, "0", metadata("empty.txt", "text/plain"));
  ASSERT_EQ(created.status, 201) << created.body;
  nlohmann::json stored = transfer(created.header("location"));
  EXPECT_EQ(stored["offset"], 0);
  EXPECT_NE(stored["state"], "created");
  EXPECT_EQ(stored["sha256"], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_F(Tus, TerminationDeletesTheUpload) {
  std::string location = create("100", "gone.csv");
  HttpResult partial = patch_upload(*gateway_, kAliceToken, location, 0, file("part.csv", "a,b\n"));
  EXPECT_EQ(partial.status, 204);
  HttpResult deleted =
      curl(join(auth(kAliceToken), {"-X", "DELETE", gateway_->url(location), "-H", "Tus-Resumable: 1.0.0"}));
  EXPECT_EQ(deleted.status, 204);
  HttpResult head = curl(join(auth(kAliceToken), {"-I", gateway_->url(location), "-H", "Tus-Resumable: 1.0.0"}));
  EXPECT_EQ(head.status, 410);
  std::string id = location.substr(std::string("/files/").size());
  EXPECT_FALSE(std::filesystem::exists(gateway_->data_dir() + "/quarantine/" + id));
}

TEST_F(Tus, AnExecutableIsDeniedAfterItsFirstChunkNotAfterTenGibibytes) {
  std::string location = create(std::to_string(10ull << 30), "model_runner", "application/octet-stream");
  ASSERT_FALSE(location.empty());
  // An ELF header, then filler: the first megabyte of a 10 GiB program.
  std::string elf = elf_executable(1u << 20);
  HttpResult patched = patch_upload(*gateway_, kAliceToken, location, 0, file("model_runner", elf));
  EXPECT_EQ(patched.status, 403) << patched.body;
  EXPECT_EQ(patched.json()["error"], "denied");
  EXPECT_NE(patched.json()["message"].get<std::string>().find("programs and scripts"), std::string::npos)
      << patched.body;
  nlohmann::json stored = transfer(location);
  EXPECT_EQ(stored["state"], "denied");
  EXPECT_LE(stored["offset"].get<std::uint64_t>(), 1u << 20);
  HttpResult again = patch_upload(*gateway_, kAliceToken, location, stored["offset"], file("model_runner", elf));
  EXPECT_EQ(again.status, 403);
}

// The gateway answers a PATCH to a denied upload from its headers alone, before the body is read. Closing a
// socket with the body still unread would reset the connection and could destroy the answer before the client
// read it; the client must get the 403 every time, however much it was still sending.
TEST_F(Tus, APatchToADeniedUploadGetsItsAnswerWhileItsBodyIsStillArriving) {
  HttpResult created = create_upload(*gateway_, kAliceToken, "100000000", metadata("setup.exe", "application/octet-stream"));
  ASSERT_EQ(created.status, 403) << created.body;
  std::string location = created.header("location");
  ASSERT_FALSE(location.empty());
  std::string body = file("more.bin", std::string(4u << 20, 'x'));
  for (int attempt = 0; attempt < 20; ++attempt) {
    // Without "Expect: 100-continue" the whole body is on its way before the answer comes.
    HttpResult again = patch_upload(*gateway_, kAliceToken, location, 0, body, {"-H", "Expect:"});
    ASSERT_EQ(again.status, 403) << "attempt " << attempt << ": " << again.body;
    EXPECT_EQ(again.json()["error"], "denied") << again.body;
  }
}

TEST_F(Tus, AProgramNamedByItsExtensionIsDeniedAtCreation) {
  HttpResult created = create_upload(*gateway_, kAliceToken, "1000", metadata("setup.exe", "application/octet-stream"));
  EXPECT_EQ(created.status, 403) << created.body;
  EXPECT_EQ(created.json()["error"], "denied");
  EXPECT_NE(created.json()["message"].get<std::string>().find(".exe"), std::string::npos) << created.body;
  nlohmann::json stored = transfer(created.header("location"));
  EXPECT_EQ(stored["state"], "denied");
  EXPECT_EQ(stored["decision"]["outcome"], "deny");
}

TEST_F(Tus, ACsvWithNhsNumbersIsEscalated) {
  std::string bytes = "nhs_number,hba1c\n9434765919,48\n9434765870,52\n4010232137,61\n";
  std::string location = create(std::to_string(bytes.size()), "cohort.csv");
  HttpResult patched = patch_upload(*gateway_, kAliceToken, location, 0, file("cohort.csv", bytes));
  EXPECT_EQ(patched.status, 204) << patched.body;
  EXPECT_EQ(patched.header("airlock-decision"), "escalate");
  nlohmann::json stored = transfer(location);
  EXPECT_EQ(stored["state"], "in_review");  // escalated, and its review case opened at once
  EXPECT_GT(stored["facts"]["content"]["nhs_numbers"].get<int>(), 0);
  std::string id = stored["id"];
  EXPECT_FALSE(std::filesystem::exists(gateway_->data_dir() + "/released/ds-test/" + id));
}

// The gateway reads an upload's body in chunks (1 MiB here, where it is the only upload) into a buffer made with
// the connection's first body, and another body (JSON) 64 KiB at a time: the buffer grows from one to the
// other. One keep-alive connection carries both kinds in turn, each larger than its read size and not a
// multiple of it; every byte arrives in order.
TEST_F(Tus, OneConnectionCarriesJsonAndUploadBodiesInTurn) {
  std::string bytes = "practice,count\n";
  for (int row = 0; bytes.size() < (5u << 19) + 7; ++row) {
    bytes += "A8" + std::to_string(1000 + row % 9000) + "," + std::to_string(10 + row % 90) + "\n";
  }
  std::string location = create(std::to_string(bytes.size()), "keep-alive.csv");
  ASSERT_FALSE(location.empty());
  std::string id = location.substr(std::string("/files/").size());
  std::string upload = file("keep-alive.csv", bytes);
  std::string comment = file("comment.json", nlohmann::json{{"text", std::string(200000, 'c')}}.dump());
  const std::string comments = gateway_->url("/api/v1/transfers/" + id + "/comments");
  const std::vector<std::string> each = join(auth(kAliceToken), {"-w", "%{http_code} %{num_connects}\n"});
  auto json_request = [&](const std::string& answer) {
    return join(each, {"-H", "Content-Type: application/json", "-o", answer, "-X", "POST", "--data-binary",
                       "@" + comment, comments});
  };
  const std::vector<std::string> patch_request =
      join(each, {"-H", "Tus-Resumable: 1.0.0", "-H", "Upload-Offset: 0", "-H",
                  "Content-Type: application/offset+octet-stream", "-H", "Expect:", "-o", "/dev/null", "-X", "PATCH",
                  "--data-binary", "@" + upload, gateway_->url(location)});
  const std::string first_answer = gateway_->root() + "/first-answer.json";
  const std::string last_answer = gateway_->root() + "/last-answer.json";
  std::string command = "curl -s";
  bool first = true;
  for (const auto& request : {json_request(first_answer), patch_request, json_request(last_answer)}) {
    command += first ? " --http1.1 --max-time 60" : " --next --http1.1 --max-time 60";
    first = false;
    for (const std::string& arg : request) command += " " + shell_quote(arg);
  }
  auto [output, code] = run_command(command);
  ASSERT_EQ(code, 0) << output;
  // The same connection serves all three (curl connected once). The comment is refused for its length, which
  // the gateway knows only from the whole body; the PATCH stores every byte.
  EXPECT_EQ(output, "400 1\n204 0\n400 0\n");
  for (const std::string& answer : {first_answer, last_answer}) {
    nlohmann::json refused = nlohmann::json::parse(read_text(answer), nullptr, false);
    EXPECT_EQ(refused["error"], "invalid") << refused;
    EXPECT_NE(refused["message"].get<std::string>().find("is 200000 bytes long"), std::string::npos) << refused;
  }
  nlohmann::json stored = transfer(location);
  EXPECT_EQ(stored["state"], "released");
  EXPECT_EQ(stored["offset"], bytes.size());
  std::string released = gateway_->data_dir() + "/released/ds-test/" + id + "/keep-alive.csv";
  EXPECT_EQ(read_text(released), bytes);
  EXPECT_EQ(stored["sha256"], sha256_of_file(released));
}

}  // namespace
}  // namespace airlock::testing
