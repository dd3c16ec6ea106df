/* reserved.h -- DynamoDB's reserved words (case-insensitive). */
#ifndef DDB_RESERVED_H
#define DDB_RESERVED_H

#include <stddef.h>

int ddb_is_reserved(const char *word);
/* The i-th word of the sorted list, NULL past the end (for tests). */
const char *ddb_reserved_word(size_t i);

#endif
