// The system zlib (Debian: zlib1g-dev), for the compressed records in the state database.
#include <zlib.h>
