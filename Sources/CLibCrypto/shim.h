#ifndef STORESYNC_CLIBCRYPTO_SHIM_H
#define STORESYNC_CLIBCRYPTO_SHIM_H
#include <openssl/evp.h>
#endif
