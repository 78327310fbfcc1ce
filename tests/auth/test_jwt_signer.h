// Keys generated in the test and a small JWS signer, to make tokens the verifier must accept or refuse.
#pragma once

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "airlock/gateway/auth/crypto.h"

namespace airlock::gateway::auth::testing {

class TestKey {
 public:
  static TestKey rsa(std::string kid) {
    return TestKey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}), std::move(kid), "RSA");
  }
  static TestKey ec(std::string kid) {
    return TestKey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), std::move(kid), "EC");
  }

  const std::string& kid() const { return kid_; }
  const char* alg() const { return kty_ == "RSA" ? "RS256" : "ES256"; }

  // The public key as a JWK (what a JWKS publishes).
  nlohmann::json jwk() const {
    nlohmann::json jwk = {{"kty", kty_}, {"kid", kid_}, {"use", "sig"}, {"alg", alg()}};
    if (kty_ == "RSA") {
      jwk["n"] = base64url_encode(bn_param(OSSL_PKEY_PARAM_RSA_N));
      jwk["e"] = base64url_encode(bn_param(OSSL_PKEY_PARAM_RSA_E));
    } else {
      unsigned char point[65];
      std::size_t length = 0;
      EVP_PKEY_get_octet_string_param(key_.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &length);
      if (length != 65) throw std::runtime_error("unexpected EC point");
      jwk["crv"] = "P-256";
      jwk["x"] = base64url_encode(std::string(reinterpret_cast<char*>(point + 1), 32));
      jwk["y"] = base64url_encode(std::string(reinterpret_cast<char*>(point + 33), 32));
    }
    return jwk;
  }

  std::string public_pem() const {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_PUBKEY(bio.get(), key_.get());
    char* data = nullptr;
    const long length = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(length));
  }

  // header.payload signed with this key; the header gets alg and kid unless it already has them.
  std::string sign(nlohmann::json header, const nlohmann::json& payload) const {
    if (!header.contains("alg")) header["alg"] = alg();
    if (!header.contains("kid")) header["kid"] = kid_;
    const std::string signing_input = base64url_encode(header.dump()) + "." + base64url_encode(payload.dump());
    return signing_input + "." + base64url_encode(raw_signature(signing_input));
  }

  std::string raw_signature(const std::string& input) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get());
    std::size_t length = 0;
    EVP_DigestSign(ctx.get(), nullptr, &length, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    std::string der(length, '\0');
    EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &length,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    der.resize(length);
    if (kty_ == "RSA") return der;
    // ECDSA: DER -> JOSE r || s.
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())),
                                                              ECDSA_SIG_free);
    unsigned char out[64];
    BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + 32, 32);
    return std::string(reinterpret_cast<char*>(out), 64);
  }

 private:
  TestKey(EVP_PKEY* key, std::string kid, std::string kty)
      : key_(key, EVP_PKEY_free), kid_(std::move(kid)), kty_(std::move(kty)) {
    if (!key) throw std::runtime_error("key generation failed");
  }
  std::string bn_param(const char* name) const {
    BIGNUM* bn = nullptr;
    EVP_PKEY_get_bn_param(key_.get(), name, &bn);
    std::string out(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
    BN_free(bn);
    return out;
  }

  std::shared_ptr<EVP_PKEY> key_;
  std::string kid_;
  std::string kty_;
};

// A token with any header and signature bytes, for the attacks (alg none, HS256, ...).
inline std::string unsigned_token(const nlohmann::json& header, const nlohmann::json& payload,
                                  const std::string& signature = "") {
  return base64url_encode(header.dump()) + "." + base64url_encode(payload.dump()) + "." + base64url_encode(signature);
}

}  // namespace airlock::gateway::auth::testing
