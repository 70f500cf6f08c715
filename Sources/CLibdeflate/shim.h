// The system libdeflate (Debian: libdeflate-dev): raw deflate of the failed calls kept outside
// the sample, about three times faster than zlib on records of a few KiB; zlib reads its output.
#include <libdeflate.h>
