#ifndef STORESYNC_CLMDB_SHIM_H
#define STORESYNC_CLMDB_SHIM_H
#include <lmdb.h>
#endif
