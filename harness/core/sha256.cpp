#include "core/sha256.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <new>

namespace xrun {

namespace {

// SHA-256 from libcrypto's built-in default provider, fetched once (an
// implicit fetch per digest looks it up again each time). libcrypto picks the
// fastest code for this CPU (the SHA extensions, AVX2, ...). The system's
// openssl.cnf is not read: it could name provider modules, which xrun,
// linked statically, must not load (dlopen), and it needs none of them.
const EVP_MD* sha256_md() {
  static EVP_MD* const md = [] {
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);
    return EVP_MD_fetch(nullptr, "SHA256", nullptr);
  }();
  return md;
}

struct CtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

std::string to_hex(const unsigned char* digest, unsigned int size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * size, '0');
  for (unsigned int i = 0; i < size; ++i) {
    out[2 * i] = kDigits[digest[i] >> 4];
    out[2 * i + 1] = kDigits[digest[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  // Fails only when libcrypto cannot allocate: as std::string does, that is fatal.
  if (sha256_md() == nullptr || EVP_Digest(bytes.data(), bytes.size(), digest, &size, sha256_md(), nullptr) != 1)
    throw std::bad_alloc();
  return to_hex(digest, size);
}

std::optional<std::string> sha256_file_hex(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || sha256_md() == nullptr || EVP_DigestInit_ex(ctx.get(), sha256_md(), nullptr) != 1) {
    ::close(fd);
    throw std::bad_alloc();
  }
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      errno = error;  // file_mirror says why
      return std::nullopt;
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &size) != 1) throw std::bad_alloc();
  return to_hex(digest, size);
}

}  // namespace xrun
