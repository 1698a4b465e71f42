/* DICOM decoding with DCMTK (C++17) behind the plain C interface of
 * dicom.h. See dicom.h for what is done to the pixels.
 *
 * Privacy: only the attributes named in this file are ever read from the
 * data set; patient-identifying ones are never touched, and DCMTK's logger
 * is set to FATAL so that its warnings (which can quote element values)
 * never reach stderr. Error texts carry attribute names, transfer syntax
 * UIDs and DCMTK condition texts only. */
#include "dicom.h"
#include "dicomfile.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/dcmimgle/dcmimage.h>
#include <dcmtk/dcmimage/diregist.h>    /* colour images (RGB, YBR, ...) */
#include <dcmtk/oflog/oflog.h>

#include <dcmtk/dcmdata/dcistrmf.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcpxitem.h>

#include <cerrno>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>
#include <exception>
#include <new>
#include <string>

struct _CxrDicom
{
  DcmFileFormat *file;
  DicomImage *image;
  guint width, height, n_frames, bits, data_bits;
  guint64 frame_duration;
  gdouble par;
  gboolean invert;              /* MONOCHROME1: inverted here, exactly */
  gchar *photometric, *transfer_syntax;
  gchar *modality, *view_position, *body_part, *sop_uid, *study_uid;
  GBytes *header;               /* cxr_dicom_get_header's, made once */
  int fd;                       /* the bytes, which the parsed file reads */
};

extern "C" GQuark
cxr_dicom_error_quark (void)
{
  return g_quark_from_static_string ("cxr-dicom-error-quark");
}

extern "C" void
cxr_dicom_init (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once)) {
    /* DCMTK's warnings may quote element values: keep them all quiet */
    OFLog::configure (OFLogger::FATAL_LOG_LEVEL);
    DJDecoderRegistration::registerCodecs ();
    DJLSDecoderRegistration::registerCodecs ();
    DcmRLEDecoderRegistration::registerCodecs ();
    g_once_init_leave (&once, 1);
  }
}

/* a non-empty string attribute of the data set, or NULL */
static gchar *
get_string (DcmItem * ds, const DcmTagKey & key)
{
  OFString v;

  if (ds->findAndGetOFString (key, v).good () && !v.empty ())
    return g_strdup (v.c_str ());
  return NULL;
}

static guint64
find_frame_duration (DcmItem * ds)
{
  Float64 ms = 0;
  Sint32 rate = 0;

  if (ds->findAndGetFloat64 (DCM_FrameTime, ms).good () && ms > 0)
    return (guint64) (ms * 1e6 + 0.5);

  DcmElement *el = NULL;
  if (ds->findAndGetElement (DCM_FrameTimeVector, el).good () && el) {
    gdouble sum = 0;
    guint n = 0;
    for (unsigned long i = 0; i < el->getVM (); i++) {
      Float64 v = 0;
      if (el->getFloat64 (v, i).good () && v > 0) {
        sum += v;
        n++;
      }
    }
    if (n > 0)
      return (guint64) (sum / n * 1e6 + 0.5);
  }
  if (ds->findAndGetSint32 (DCM_CineRate, rate).good () && rate > 0)
    return (guint64) (1e9 / rate + 0.5);
  if (ds->findAndGetSint32 (DCM_RecommendedDisplayFrameRate, rate).good ()
      && rate > 0)
    return (guint64) (1e9 / rate + 0.5);
  return 0;
}

static gdouble
find_pixel_aspect_ratio (DcmItem * ds)
{
  const DcmTagKey keys[] = { DCM_PixelSpacing, DCM_ImagerPixelSpacing };
  for (const DcmTagKey & key : keys) {
    /* value 1: row spacing (vertical), value 2: column spacing (horizontal) */
    Float64 row = 0, col = 0;
    if (ds->findAndGetFloat64 (key, row, 0).good ()
        && ds->findAndGetFloat64 (key, col, 1).good () && row > 0 && col > 0)
      return col / row;
  }
  /* (0028,0034): vertical \ horizontal */
  Sint32 v = 0, h = 0;
  if (ds->findAndGetSint32 (DCM_PixelAspectRatio, v, 0).good ()
      && ds->findAndGetSint32 (DCM_PixelAspectRatio, h, 1).good ()
      && v > 0 && h > 0)
    return (gdouble) h / v;
  return 1.0;
}

extern "C" void
cxr_dicom_free (CxrDicom * d)
{
  if (d == NULL)
    return;
  delete d->image;              /* before the data set it points into */
  delete d->file;               /* before the bytes it may still read */
  if (d->fd >= 0)
    close (d->fd);
  g_free (d->photometric);
  g_free (d->transfer_syntax);
  g_free (d->modality);
  g_free (d->view_position);
  g_free (d->body_part);
  g_free (d->sop_uid);
  g_free (d->study_uid);
  if (d->header)
    g_bytes_unref (d->header);
  g_free (d);
}

static gboolean
write_all (int fd, const guint8 * data, gsize size)
{
  while (size > 0) {
    ssize_t n = write (fd, data, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return FALSE;
    data += n;
    size -= n;
  }
  return TRUE;
}

static gboolean
fail (GError ** error, CxrDicomErrorCode code, const std::string & msg)
{
  g_set_error_literal (error, CXR_DICOM_ERROR, code, msg.c_str ());
  return FALSE;
}

/* The image's size from its header, bounded before anything is decoded (a
 * few bytes can claim 65535x65535 pixels in a million frames), and the
 * bytes its uncompressed Pixel Data needs. FALSE + error when too large. */
static gboolean
check_size (DcmDataset * ds, guint64 * bytes_needed, GError ** error)
{
  Uint16 rows = 0, cols = 0, alloc = 0, spp = 1;
  Sint32 frames = 1;
  const char *photometric = NULL;

  ds->findAndGetUint16 (DCM_Rows, rows);
  ds->findAndGetUint16 (DCM_Columns, cols);
  ds->findAndGetUint16 (DCM_BitsAllocated, alloc);
  ds->findAndGetUint16 (DCM_SamplesPerPixel, spp);
  ds->findAndGetString (DCM_PhotometricInterpretation, photometric);
  if (ds->findAndGetSint32 (DCM_NumberOfFrames, frames).bad () || frames < 1)
    frames = 1;
  /* the toolkit reads a missing one as 1 sample and fills the image out
   * with zeros, so the count must not drop to 0 here (a 553-byte file then
   * became a 16388x11780 image); a missing depth counts as 8 bits */
  if (spp < 1)
    spp = 1;
  if (alloc == 0)
    alloc = 8;
  if ((guint) frames > CXR_DICOM_MAX_FRAMES
      || (guint64) rows * cols * frames > CXR_DICOM_MAX_PIXELS) {
    g_set_error (error, CXR_DICOM_ERROR, CXR_DICOM_ERROR_TOO_LARGE,
        "the DICOM image is %ux%u pixels in %d frame(s), more than allowed "
        "(%u frames, %" G_GUINT64_FORMAT " pixels in all)", cols, rows,
        (int) frames, CXR_DICOM_MAX_FRAMES, CXR_DICOM_MAX_PIXELS);
    return FALSE;
  }
  /* bounded above, so no overflow: at most 2^28 x 65535 x 65535 / 8 */
  guint64 samples = (guint64) rows * cols * frames * spp;
  /* 4:2:2 keeps one Cb and one Cr for two pixels: 2 samples a pixel */
  if (photometric && spp == 3 && g_str_has_suffix (photometric, "_422"))
    samples = samples * 2 / 3;
  *bytes_needed = samples * alloc / 8;
  return TRUE;
}

static gboolean open_memory (CxrDicom * d, const guint8 * data, gsize size,
    const CxrDicomOptions * opts, GError ** error);

extern "C" CxrDicom *
cxr_dicom_open_memory (const guint8 * data, gsize size,
    const CxrDicomOptions * opts, GError ** error)
{
  CxrDicom *d = g_new0 (CxrDicom, 1);

  d->fd = -1;
  /* a C++ exception into C code (GStreamer's threads) ends the process */
  try {
    if (open_memory (d, data, size, opts, error))
      return d;
  } catch (const std::bad_alloc &) {
    g_set_error (error, CXR_DICOM_ERROR, CXR_DICOM_ERROR_TOO_LARGE,
        "not enough memory to decode the DICOM image");
  } catch (const std::exception & e) {
    g_set_error (error, CXR_DICOM_ERROR, CXR_DICOM_ERROR_DECODE,
        "cannot decode the DICOM image: %s", e.what ());
  } catch (...) {
    g_set_error (error, CXR_DICOM_ERROR, CXR_DICOM_ERROR_DECODE,
        "cannot decode the DICOM image: the toolkit failed");
  }
  cxr_dicom_free (d);
  return NULL;
}

/* fills d; FALSE + error, leaving d to be freed, on failure */
static gboolean
open_memory (CxrDicom * d, const guint8 * data, gsize size,
    const CxrDicomOptions * opts, GError ** error)
{
  CxrDicomOptions defaults = { 0, 0, FALSE };

  cxr_dicom_init ();
  if (opts == NULL)
    opts = &defaults;
  if (opts->bits != 0 && opts->bits != 8 && opts->bits != 16) {
    g_set_error (error, CXR_DICOM_ERROR, CXR_DICOM_ERROR_ARGUMENT,
        "output depth must be 0, 8 or 16, not %u", opts->bits);
    return FALSE;
  }

  gboolean has_magic = size >= 132 && memcmp (data + 128, "DICM", 4) == 0;
  d->file = new DcmFileFormat ();
  d->par = 1.0;

  /* Parsed from an anonymous in-memory file, not from the buffer: from
   * memory DCMTK reserves each element's declared length before reading it
   * (a 150-byte file can claim 4 GiB), while from a file it leaves the long
   * ones (over DCM_MaxReadLength) unread until asked for, and only the
   * pixel data is, once its length is checked against the file's. */
  d->fd = memfd_create ("cxr-dicom", MFD_CLOEXEC);
  if (d->fd < 0 || !write_all (d->fd, data, size))
    return fail (error, CXR_DICOM_ERROR_DECODE,
        std::string ("cannot hold the DICOM file in memory: ")
        + g_strerror (errno));
  gchar *path = g_strdup_printf ("/proc/self/fd/%d", d->fd);
  OFCondition cond;
  {
    DcmInputFileStream in (path);
    cond = in.status ();
    if (cond.good ()) {
      d->file->transferInit ();
      cond = d->file->read (in, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
      d->file->transferEnd ();
    }
  }
  g_free (path);
  DcmDataset *ds = d->file->getDataset ();

  if (cond.bad ()) {
    if (!has_magic)
      return fail (error, CXR_DICOM_ERROR_NOT_DICOM,
          "not a DICOM file (no \"DICM\" at byte 128, and it does not parse "
          "as a bare DICOM data set)");
    /* DCMTK reports a short file as an invalid stream (or as needing
     * more data): with the magic present, that is what it almost always is */
    if (cond == EC_StreamNotifyClient || cond == EC_InvalidStream
        || cond == EC_PrematureSequDelimitationItem)
      return fail (error, CXR_DICOM_ERROR_TRUNCATED,
          std::string ("truncated (or corrupt) DICOM file: the data ends "
              "before its last element does (") + cond.text () + ")");
    return fail (error, CXR_DICOM_ERROR_DECODE,
        std::string ("cannot parse the DICOM file: ") + cond.text ());
  }
  if (!has_magic && !ds->tagExists (DCM_SOPClassUID)
      && !ds->tagExists (DCM_PixelData))
    return fail (error, CXR_DICOM_ERROR_NOT_DICOM,
        "not a DICOM file (no \"DICM\" at byte 128, and no SOP Class UID or "
        "Pixel Data)");

  /* DCMTK stops quietly at the end of a short element: compare what the
   * pixel data says with what it holds */
  E_TransferSyntax xfer = ds->getOriginalXfer ();
  DcmXfer xf (xfer);
  d->transfer_syntax = g_strdup (xf.getXferID ());

  DcmElement *pixel = NULL;
  if (ds->findAndGetElement (DCM_PixelData, pixel).bad () || pixel == NULL)
    return fail (error, CXR_DICOM_ERROR_NO_PIXEL_DATA,
        "the DICOM file holds no image: it has no Pixel Data (7FE0,0010) "
        "(e.g. a structured report or presentation state)");

  d->photometric = get_string (ds, DCM_PhotometricInterpretation);
  d->modality = get_string (ds, DCM_Modality);
  d->view_position = get_string (ds, DCM_ViewPosition);
  d->body_part = get_string (ds, DCM_BodyPartExamined);
  d->sop_uid = get_string (ds, DCM_SOPInstanceUID);
  d->study_uid = get_string (ds, DCM_StudyInstanceUID);
  d->frame_duration = find_frame_duration (ds);
  d->par = find_pixel_aspect_ratio (ds);

  guint64 need;
  if (!check_size (ds, &need, error))
    return FALSE;
  if (opts->header_only)
    return TRUE;

  /* decompress up front, for a clear error when a syntax is unsupported */
  if (xf.isEncapsulated ()) {
    /* each fragment is read from the file only now: it must fit in it */
    DcmPixelSequence *fragments = NULL;
    DcmPixelItem *fragment = NULL;
    if (pixel->ident () == EVR_PixelData
        && OFstatic_cast (DcmPixelData *, pixel)->getEncapsulatedRepresentation
        (xfer, NULL, fragments).good () && fragments)
      for (unsigned long i = 0; i < fragments->card (); i++)
        if (fragments->getItem (fragment, i).good ()
            && xf.getStreamCompression () == ESC_none
            && fragment->getLength () > size)
          return fail (error, CXR_DICOM_ERROR_TRUNCATED,
              "truncated DICOM file: a fragment of its compressed Pixel Data "
              "claims " + std::to_string (fragment->getLength ())
              + " bytes, more than the file holds");
    cond = ds->chooseRepresentation (EXS_LittleEndianExplicit, NULL);
    if (cond.bad () || !ds->canWriteXfer (EXS_LittleEndianExplicit))
      return fail (error, CXR_DICOM_ERROR_UNSUPPORTED,
          std::string ("cannot decompress DICOM transfer syntax ")
          + xf.getXferName () + " (" + xf.getXferID () + "): "
          + (cond.bad () ? cond.text () : "no decoder"));
    xfer = EXS_LittleEndianExplicit;
  } else {
    /* uncompressed: the file must hold the value (it is read from the file
     * only now; a deflated file's data set is larger than the file) */
    if (xf.getStreamCompression () == ESC_none && pixel->getLength () > size)
      return fail (error, CXR_DICOM_ERROR_TRUNCATED,
          "truncated DICOM file: Pixel Data claims "
          + std::to_string (pixel->getLength ()) + " bytes, the file holds "
          + std::to_string (size));
    /* and it must be as long as the image needs */
    if (pixel->getLength () < need || pixel->getLength () == 0)
      return fail (error, CXR_DICOM_ERROR_TRUNCATED,
          "truncated DICOM file: Pixel Data holds "
          + std::to_string (pixel->getLength ()) + " bytes, the image needs "
          + std::to_string (need));
  }

  /* DCMTK's own MONOCHROME1 inversion is off by one for half the values
   * (it maps 255 to 1): decode as MONOCHROME2 and invert the output here */
  if (d->photometric && strcmp (d->photometric, "MONOCHROME1") == 0) {
    ds->putAndInsertString (DCM_PhotometricInterpretation, "MONOCHROME2");
    d->invert = TRUE;
  }

  d->image = new DicomImage (d->file, xfer, 0UL, 0UL, 0UL);
  EI_Status st = d->image->getStatus ();
  if (st != EIS_Normal) {
    std::string why = DicomImage::getString (st);
    return fail (error, st == EIS_NotSupportedValue ?
        CXR_DICOM_ERROR_UNSUPPORTED : CXR_DICOM_ERROR_DECODE,
        "cannot decode the DICOM image (photometric "
        + std::string (d->photometric ? d->photometric : "unknown") + "): "
        + why);
  }

  if (!d->image->isMonochrome ()) {
    DicomImage *mono = d->image->createMonochromeImage ();
    if (mono == NULL || mono->getStatus () != EIS_Normal) {
      delete mono;
      return fail (error, CXR_DICOM_ERROR_UNSUPPORTED,
          "cannot convert photometric "
          + std::string (d->photometric ? d->photometric : "unknown")
          + " to grey");
    }
    delete d->image;
    d->image = mono;
  }

  if (opts->window == -1) {
    d->image->setMinMaxWindow (0);
  } else if (opts->window >= 0
      && (unsigned long) opts->window < d->image->getWindowCount ()) {
    d->image->setWindow ((unsigned long) opts->window);
  } else if (opts->window < -1) {
    return fail (error, CXR_DICOM_ERROR_ARGUMENT,
        "window must be -1 (full range) or a window index >= 0");
  }
  /* else: no such window in the file, pass through unwindowed */

  d->width = d->image->getWidth ();
  d->height = d->image->getHeight ();
  d->n_frames = d->image->getFrameCount ();
  d->data_bits = d->image->getDepth ();
  d->bits = opts->bits ? opts->bits : (d->data_bits > 8 ? 16 : 8);
  if (d->width == 0 || d->height == 0 || d->n_frames == 0)
    return fail (error, CXR_DICOM_ERROR_DECODE,
        "the DICOM image has no pixels (zero rows, columns or frames)");
  return TRUE;
}

extern "C" guint
cxr_dicom_get_width (const CxrDicom * d)
{
  return d->width;
}

extern "C" guint
cxr_dicom_get_height (const CxrDicom * d)
{
  return d->height;
}

extern "C" guint
cxr_dicom_get_n_frames (const CxrDicom * d)
{
  return d->n_frames;
}

extern "C" guint
cxr_dicom_get_bits (const CxrDicom * d)
{
  return d->bits;
}

extern "C" guint
cxr_dicom_get_data_bits (const CxrDicom * d)
{
  return d->data_bits;
}

extern "C" guint64
cxr_dicom_get_frame_duration (const CxrDicom * d)
{
  return d->frame_duration;
}

extern "C" gdouble
cxr_dicom_get_pixel_aspect_ratio (const CxrDicom * d)
{
  return d->par;
}

extern "C" const gchar *
cxr_dicom_get_photometric (const CxrDicom * d)
{
  return d->photometric;
}

extern "C" const gchar *
cxr_dicom_get_transfer_syntax (const CxrDicom * d)
{
  return d->transfer_syntax;
}

extern "C" const gchar *
cxr_dicom_get_modality (const CxrDicom * d)
{
  return d->modality;
}

extern "C" const gchar *
cxr_dicom_get_view_position (const CxrDicom * d)
{
  return d->view_position;
}

extern "C" const gchar *
cxr_dicom_get_body_part (const CxrDicom * d)
{
  return d->body_part;
}

extern "C" const gchar *
cxr_dicom_get_sop_instance_uid (const CxrDicom * d)
{
  return d->sop_uid;
}

extern "C" const gchar *
cxr_dicom_get_study_instance_uid (const CxrDicom * d)
{
  return d->study_uid;
}

GBytes *
cxr_dicom_fail (GError ** error, const std::string & msg)
{
  fail (error, CXR_DICOM_ERROR_DECODE, msg);
  return NULL;
}

GBytes *
cxr_dicom_object_bytes (DcmFileFormat & object, const char *what,
    const std::string & uid, gchar ** sop_uid, GError ** error)
{
  OFCondition cond;
  GBytes *bytes = cxr_dicom_file_bytes (object, cond);

  if (!bytes)
    return cxr_dicom_fail (error, std::string ("cannot encode the ") + what
        + ": " + cond.text ());
  if (sop_uid)
    *sop_uid = g_strdup (uid.c_str ());
  return bytes;
}

DcmDataset *
cxr_dicom_source_read (GBytes * header, DcmFileFormat & file,
    CxrDicomSource & source, const char *what, GError ** error)
{
  gsize size;
  const void *data = g_bytes_get_data (header, &size);
  DcmInputBufferStream in;

  in.setBuffer (data, size);
  in.setEos ();
  file.transferInit ();
  OFCondition cond = file.read (in, EXS_Unknown);
  file.transferEnd ();
  if (cond.bad ()) {
    cxr_dicom_fail (error, std::string ("cannot read the image's DICOM "
            "header: ") + cond.text ());
    return NULL;
  }
  DcmDataset *image = file.getDataset ();
  image->findAndGetOFString (DCM_StudyInstanceUID, source.study);
  image->findAndGetOFString (DCM_SeriesInstanceUID, source.series);
  image->findAndGetOFString (DCM_SOPClassUID, source.sop_class);
  image->findAndGetOFString (DCM_SOPInstanceUID, source.instance);
  if (source.study.empty () || source.series.empty ()
      || source.sop_class.empty () || source.instance.empty ()) {
    cxr_dicom_fail (error, std::string ("the image has no Study, Series or "
            "SOP Instance UID or no SOP Class UID, so ") + what
        + " cannot refer to it");
    return NULL;
  }
  return image;
}

std::string
cxr_dicom_derived_uid (const char *kind,
    std::initializer_list < std::string > of)
{
  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize length = sizeof digest;
  unsigned __int128 n = 0;
  std::string digits;

  g_checksum_update (sum, (const guchar *) kind, strlen (kind) + 1);
  for (const std::string & s : of)
    g_checksum_update (sum, (const guchar *) s.c_str (), s.length () + 1);
  g_checksum_get_digest (sum, digest, &length);
  g_checksum_free (sum);
  digest[6] = (digest[6] & 0x0f) | 0x80;        /* version 8 */
  digest[8] = (digest[8] & 0x3f) | 0x80;        /* the RFC's variant */
  for (int i = 0; i < 16; i++)
    n = n << 8 | digest[i];
  do {
    digits.insert (digits.begin (), (char) ('0' + (int) (n % 10)));
    n /= 10;
  } while (n > 0);
  return "2.25." + digits;
}

GBytes *
cxr_dicom_file_bytes (DcmFileFormat & file, OFCondition & cond)
{
  /* the length the file says it needs, and room for its meta header */
  Uint32 length = file.calcElementLength (EXS_LittleEndianExplicit,
      EET_ExplicitLength) + 4096;
  std::string bytes (length, '\0');
  DcmOutputBufferStream out (&bytes[0], length);
  void *buffer;
  offile_off_t written;

  file.transferInit ();
  cond = file.write (out, EXS_LittleEndianExplicit, EET_ExplicitLength, NULL);
  file.transferEnd ();
  if (cond.bad ())
    return NULL;
  out.flushBuffer (buffer, written);
  return g_bytes_new (buffer, written);
}

/* the elements of an image's data set a header leaves out: the pixels,
 * in any of their forms */
static bool
is_pixels (const DcmTagKey & key)
{
  return key == DCM_PixelData || key == DCM_FloatPixelData
      || key == DCM_DoubleFloatPixelData || key == DCM_IconImageSequence
      || (key.getGroup () >= 0x6000 && key.getGroup () <= 0x60ff
      && key.getGroup () % 2 == 0 && key.getElement () == 0x3000);
}

static GBytes *
make_header (CxrDicom * d, GError ** error)
{
  DcmFileFormat header;
  DcmDataset *from = d->file->getDataset ();
  DcmDataset *to = header.getDataset ();
  OFCondition cond = EC_Normal;

  /* element by element: copying the whole file would copy its pixels */
  for (unsigned long i = 0; cond.good () && i < from->card (); i++) {
    DcmElement *e = from->getElement (i);
    if (!is_pixels (e->getTag ()))
      cond = to->insert (OFstatic_cast (DcmElement *, e->clone ()), OFTrue);
  }
  /* as the file says, not as it was decoded (MONOCHROME1 is decoded as
   * MONOCHROME2 and inverted here) */
  if (cond.good () && d->photometric)
    cond = to->putAndInsertString (DCM_PhotometricInterpretation,
        d->photometric);
  /* written in an uncompressed syntax whatever the image was in */
  GBytes *bytes = cond.good () ? cxr_dicom_file_bytes (header, cond) : NULL;
  if (!bytes)
    fail (error, CXR_DICOM_ERROR_DECODE,
        std::string ("cannot copy the DICOM header: ") + cond.text ());
  return bytes;
}

extern "C" GBytes *
cxr_dicom_get_header (CxrDicom * d, GError ** error)
{
  try {
    if (!d->header)
      d->header = make_header (d, error);
    return d->header ? g_bytes_ref (d->header) : NULL;
  } catch (const std::exception & e) {
    fail (error, CXR_DICOM_ERROR_DECODE,
        std::string ("cannot copy the DICOM header: ") + e.what ());
  } catch (...) {
    fail (error, CXR_DICOM_ERROR_DECODE,
        "cannot copy the DICOM header: the toolkit failed");
  }
  return NULL;
}

static gboolean get_frame (CxrDicom * d, guint index, guint8 * out,
    gsize stride, guint bits, GError ** error);

extern "C" gboolean
cxr_dicom_get_frame (CxrDicom * d, guint index, guint8 * out, gsize stride,
    guint bits, GError ** error)
{
  try {
    return get_frame (d, index, out, stride, bits, error);
  } catch (const std::bad_alloc &) {
    g_set_error (error, CXR_DICOM_ERROR, CXR_DICOM_ERROR_TOO_LARGE,
        "not enough memory to render frame %u of the DICOM image", index);
  } catch (...) {
    g_set_error (error, CXR_DICOM_ERROR, CXR_DICOM_ERROR_DECODE,
        "cannot render frame %u of the DICOM image: the toolkit failed",
        index);
  }
  return FALSE;
}

static gboolean
get_frame (CxrDicom * d, guint index, guint8 * out, gsize stride, guint bits,
    GError ** error)
{
  if (bits == 0)
    bits = d->bits;
  if (bits != 8 && bits != 16) {
    g_set_error (error, CXR_DICOM_ERROR, CXR_DICOM_ERROR_ARGUMENT,
        "output depth must be 8 or 16, not %u", bits);
    return FALSE;
  }
  if (index >= d->n_frames) {
    g_set_error (error, CXR_DICOM_ERROR, CXR_DICOM_ERROR_ARGUMENT,
        "frame %u asked for, the image has %u", index, d->n_frames);
    return FALSE;
  }
  gsize row_bytes = (gsize) d->width * (bits / 8);
  if (stride < row_bytes) {
    g_set_error (error, CXR_DICOM_ERROR, CXR_DICOM_ERROR_ARGUMENT,
        "stride %" G_GSIZE_FORMAT " is less than a row (%" G_GSIZE_FORMAT
        " bytes)", stride, row_bytes);
    return FALSE;
  }

  const void *src = d->image->getOutputData ((int) bits, index, 0);
  if (src == NULL) {
    g_set_error (error, CXR_DICOM_ERROR, CXR_DICOM_ERROR_DECODE,
        "cannot render frame %u of the DICOM image: %s", index,
        DicomImage::getString (d->image->getStatus ()));
    return FALSE;
  }

  for (guint y = 0; y < d->height; y++) {
    guint8 *dst = out + (gsize) y * stride;
    if (bits == 8) {
      const guint8 *s = (const guint8 *) src + (gsize) y * row_bytes;
      if (d->invert)
        for (guint x = 0; x < d->width; x++)
          dst[x] = 255 - s[x];
      else
        memcpy (dst, s, row_bytes);
    } else {
      const guint16 *s = (const guint16 *) src + (gsize) y * d->width;
      for (guint x = 0; x < d->width; x++) {
        guint16 v = GUINT16_TO_LE (d->invert ? 65535 - s[x] : s[x]);
        memcpy (dst + 2 * x, &v, 2);
      }
    }
  }
  return TRUE;
}
