/* fuzz_jwt.c -- libFuzzer target for bearer-token verification and the
 * base64 decoders (tokens; HTTP Basic credentials), with a small output. */
#include "jwt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *tok = malloc(size + 1);
    memcpy(tok, data, size);
    tok[size] = '\0';
    struct jwt_claims c;
    const char *why;
    jwt_verify("0123456789abcdef0123456789abcdef", tok, "agent-async", 1000, &c, &why);
    unsigned char out[4096], *small = malloc(48);
    b64url_decode(tok, size, out, sizeof(out));
    b64_decode(tok, size, out, sizeof(out));
    b64url_decode(tok, size, small, 48);
    b64_decode(tok, size, small, 48);
    free(small);
    free(tok);
    return 0;
}
