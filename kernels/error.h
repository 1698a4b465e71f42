/* error.h — the GError domain of the kernels. */
#pragma once
#include <glib.h>

#define CXR_ERROR (cxr_error_quark ())
GQuark cxr_error_quark (void);

typedef enum {
  CXR_ERROR_INVALID_ARGUMENT,   /* a caller passed something unusable */
  CXR_ERROR_TOO_LARGE,          /* a size beyond what we agree to allocate */
  CXR_ERROR_IO,                 /* reading or writing a file failed */
  CXR_ERROR_CORRUPT,            /* a file is not what it claims to be */
  CXR_ERROR_UNSUPPORTED,        /* valid, but something we do not handle */
  CXR_ERROR_ENGINE,             /* oneDNN refused or failed */
  CXR_ERROR_CANCELLED,          /* the caller asked for a stop */
  CXR_ERROR_DIVERGED,           /* training: a loss or weight not finite */
} CxrErrorCode;
