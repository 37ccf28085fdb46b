// Random identifiers from the kernel's CSPRNG. `event_id` is the idempotency key of deploy events
// (stored with ON CONFLICT DO NOTHING), so two events that draw the same id are one event to the
// store: ids must come from a source that cannot repeat in practice across processes, threads
// and restarts. getrandom(2) draws from the kernel's pool (blocking only until it is seeded at
// boot); a library PRNG seeded from one 32-bit draw has at most 2^32 streams.
#pragma once

#include <cstddef>
#include <string>

namespace probe::util {

// Fills `size` bytes at `out` with getrandom(2) (or /dev/urandom on a kernel without it); throws
// probe::Error when neither can be read.
void random_bytes(unsigned char* out, std::size_t size);

// A random (version 4, RFC 4122 variant) UUID, lower-case hex with dashes: 122 random bits.
std::string random_uuid();

} // namespace probe::util
