#ifndef STORESYNC_CLMDB_SHIM_H
#define STORESYNC_CLMDB_SHIM_H
#include <lmdb.h>

/* Linux's sync_file_range(2), declared here because the C library declares it only under
   _GNU_SOURCE. */
extern int sync_file_range(int fd, long offset, long count, unsigned int flags);

/* Starts writing a file's dirty pages to the disk without waiting for them
   (SYNC_FILE_RANGE_WRITE), so that a later flush has less left to wait for. */
static inline int storesync_start_writeback(int fd) {
    return sync_file_range(fd, 0, 0, 2u);
}
#endif
