/* The storage SCP of dicomlistener.h, with DCMTK's DcmBaseSCPPool: one
 * thread listens, each association gets a worker thread of its own. */
#include "dicomlistener.h"
#include "dicom.h"
#include "dicomnode.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmnet/scppool.h>
#include <dcmtk/dcmnet/scpthrd.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include <exception>
#include <string>
#include <vector>

/* what a chest film comes as */
static const char *const IMAGE_CLASSES[] = {
  UID_ComputedRadiographyImageStorage,
  UID_DigitalXRayImageStorageForPresentation,
  UID_DigitalXRayImageStorageForProcessing,
  UID_SecondaryCaptureImageStorage,
};

/* what dicom.h decodes: the uncompressed syntaxes, JPEG, JPEG-LS and RLE
 * (the SCP's order of preference) */
static const char *const SYNTAXES[] = {
  UID_LittleEndianExplicitTransferSyntax,
  UID_LittleEndianImplicitTransferSyntax,
  UID_BigEndianExplicitTransferSyntax,
  UID_DeflatedExplicitVRLittleEndianTransferSyntax,
  UID_JPEGProcess1TransferSyntax,
  UID_JPEGProcess2_4TransferSyntax,
  UID_JPEGProcess14TransferSyntax,
  UID_JPEGProcess14SV1TransferSyntax,
  UID_JPEGLSLosslessTransferSyntax,
  UID_JPEGLSLossyTransferSyntax,
  UID_RLELosslessTransferSyntax,
};

class Pool;

struct _CxrDicomListener
{
  std::string ae_title, spool;
  std::vector < std::string > callers;  /* empty: any */
  CxrDicomReceived received;
  CxrDicomRefused refused, stopped;
  gpointer user_data;
  Pool *pool;
  GThread *thread;              /* the pool's listen loop */
  GMutex lock;
  GCond ended;
  gboolean listening;           /* under lock: the listen loop runs */
};

static void
say_refused (CxrDicomListener * node, const std::string & why)
{
  if (node->refused)
    node->refused (why.c_str (), node->user_data);
}

extern "C" gboolean
cxr_dicom_uid_is_valid (const gchar * uid)
{
  size_t n = uid ? strlen (uid) : 0;
  return n >= 1 && n <= 64 && strspn (uid, "0123456789.") == n
      && uid[0] != '.';
}

/* fsync of a file or folder by path: FALSE, errno set, when it fails */
static bool
sync_path (const std::string & path)
{
  int fd = open (path.c_str (), O_RDONLY);
  if (fd < 0)
    return false;
  bool ok = fsync (fd) == 0;
  close (fd);
  return ok;
}

/* the object of req, received as ds from calling, made safe in the spool:
 * the C-STORE status to answer, and why when it is not success */
static Uint16
keep (CxrDicomListener * node, DcmDataset * ds, const T_DIMSE_C_StoreRQ & req,
    const OFString & calling, std::string & why)
{
  const char *uid = req.AffectedSOPInstanceUID;
  OFString in_data;

  if (!cxr_dicom_uid_is_valid (uid)
      || ds->findAndGetOFString (DCM_SOPInstanceUID, in_data).bad ()
      || in_data != uid) {
    why = "an object whose SOP Instance UID is missing, not a UID, or not "
        "the one of its C-STORE request";
    return STATUS_STORE_Error_CannotUnderstand;
  }
  std::string path = node->spool + G_DIR_SEPARATOR_S + uid + ".dcm";
  std::string temp = node->spool + G_DIR_SEPARATOR_S + uid + ".XXXXXX.part";
  /* the patient's data: for the owner alone */
  int fd = g_mkstemp_full (&temp[0], O_RDWR, 0600);
  if (fd < 0) {
    why = std::string ("cannot write to the spool folder: ")
        + g_strerror (errno);
    return STATUS_STORE_Refused_OutOfResources;
  }
  close (fd);

  DcmFileFormat file (ds);
  file.getMetaInfo ()->putAndInsertString (DCM_SourceApplicationEntityTitle,
      calling.c_str ());
  OFCondition cond = file.saveFile (temp.c_str (), ds->getOriginalXfer ());
  gchar *bytes = NULL;
  gsize size = 0;
  GError *error = NULL;
  Uint16 status = STATUS_Success;
  if (cond.bad () || !g_file_get_contents (temp.c_str (), &bytes, &size,
          NULL)) {
    why = std::string ("cannot write to the spool folder: ") + cond.text ();
    status = STATUS_STORE_Refused_OutOfResources;
  } else {
    /* read back as the decoder will: an image it cannot decode is refused
     * now, while the sender still holds it */
    CxrDicom *image = cxr_dicom_open_memory ((const guint8 *) bytes, size,
        NULL, &error);
    if (!image) {
      why = std::string ("not an image that can be decoded: ")
          + error->message;
      g_error_free (error);
      status = STATUS_STORE_Error_CannotUnderstand;
    }
    cxr_dicom_free (image);
  }
  g_free (bytes);
  if (status == STATUS_Success && (!sync_path (temp)
          || g_rename (temp.c_str (), path.c_str ()) != 0
          || !sync_path (node->spool))) {
    why = std::string ("cannot keep it in the spool folder: ")
        + g_strerror (errno);
    status = STATUS_STORE_Refused_OutOfResources;
  }
  if (status != STATUS_Success) {
    g_unlink (temp.c_str ());
    return status;
  }
  node->received (path.c_str (), uid, node->user_data);
  return STATUS_Success;
}

/* one association: the AE title checks and the C-STOREs */
class Worker:public DcmBaseSCPPool::DcmBaseSCPWorker, private DcmThreadSCP
{
public:
  Worker (DcmBaseSCPPool & pool, CxrDicomListener & node)
  : DcmBaseSCPWorker (pool), node (node)
  {
  }

  OFCondition setSharedConfig (const DcmSharedSCPConfig & config) override
  {
    return DcmThreadSCP::setSharedConfig (config);
  }

  OFBool busy () override
  {
    return isConnected ();
  }

protected:
  OFCondition workerListen (T_ASC_Association * const assoc) override
  {
    return DcmThreadSCP::run (assoc);
  }

  OFBool checkCalledAETitleAccepted (const OFString & called) override
  {
    if (called == node.ae_title.c_str ())
      return OFTrue;
    say_refused (&node, std::string ("an association calling AE title '")
        + called.c_str () + "', which is not this node's ('"
        + node.ae_title + "')");
    return OFFalse;
  }

  OFBool checkCallingAETitleAccepted (const OFString & calling) override
  {
    if (node.callers.empty ())
      return OFTrue;
    for (const std::string & allowed:node.callers)
      if (calling == allowed.c_str ())
        return OFTrue;
    say_refused (&node, std::string ("an association from '")
        + calling.c_str () + "', which is not among the allowed callers");
    return OFFalse;
  }

  OFCondition handleIncomingCommand (T_DIMSE_Message * msg,
      const DcmPresentationContextInfo & context) override
  {
    if (msg->CommandField != DIMSE_C_STORE_RQ)
      return DcmThreadSCP::handleIncomingCommand (msg, context);
    T_DIMSE_C_StoreRQ & req = msg->msg.CStoreRQ;
    DcmDataset *ds = NULL;
    OFCondition cond = receiveSTORERequest (req,
        context.presentationContextID, ds);
    if (cond.bad ()) {
      /* the association broke: no answer, the sender still holds it */
      delete ds;
      return cond;
    }
    std::string why;
    Uint16 status;
    try {
      status = keep (&node, ds, req, getPeerAETitle (), why);
    } catch (const std::exception & e) {
      why = e.what ();
      status = STATUS_STORE_Refused_OutOfResources;
    }
    delete ds;
    if (status != STATUS_Success) {
      char hex[8];
      g_snprintf (hex, sizeof hex, "%04x", status);
      say_refused (&node, std::string ("object ")
          + req.AffectedSOPInstanceUID + " from '" + getPeerAETitle ().c_str ()
          + "' answered 0x" + hex + ": " + why);
    }
    return sendSTOREResponse (context.presentationContextID, req, status);
  }

private:
  CxrDicomListener & node;
};

class Pool:public DcmBaseSCPPool
{
public:
  explicit Pool (CxrDicomListener & node):node (node)
  {
  }

protected:
  DcmBaseSCPWorker * createSCPWorker () override
  {
    return new Worker (*this, node);
  }

private:
  CxrDicomListener & node;
};

static gpointer
listen_loop (gpointer data)
{
  CxrDicomListener *node = (CxrDicomListener *) data;
  OFCondition cond = node->pool->listen ();
  if (cond.bad ())
    node->stopped (cond.text (), node->user_data);
  g_mutex_lock (&node->lock);
  node->listening = FALSE;
  g_cond_signal (&node->ended);
  g_mutex_unlock (&node->lock);
  return NULL;
}

/* the port can be listened on: said now, not in the listen thread */
static gboolean
check_port (guint16 port, GError ** error)
{
  T_ASC_Network *network = NULL;
  OFCondition cond = ASC_initializeNetwork (NET_ACCEPTOR, port, 5, &network);
  if (cond.good ()) {
    ASC_dropNetwork (&network);
    return TRUE;
  }
  g_set_error (error, G_IO_ERROR, cond == NET_EC_InsufficientPortPrivileges
      ? G_IO_ERROR_PERMISSION_DENIED : G_IO_ERROR_FAILED,
      "Cannot listen on port %u: %s", port, cond.text ());
  return FALSE;
}

static CxrDicomListener *
listener_new (const CxrDicomListenerSettings * set, GError ** error)
{
  if (!cxr_dicom_ae_title_is_valid (set->ae_title)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "'%s' is not an AE title: 1 to 16 characters, no backslash",
        set->ae_title ? set->ae_title : "");
    return NULL;
  }
  for (const gchar * const *c = set->allowed_callers; c && *c; c++)
    if (!cxr_dicom_ae_title_is_valid (*c)) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "'%s' is not an AE title: 1 to 16 characters, no backslash", *c);
      return NULL;
    }
  cxr_dicom_init ();            /* the decoders, and a quiet toolkit */
  if (!check_port (set->port, error))
    return NULL;

  CxrDicomListener *node = new CxrDicomListener;
  node->ae_title = set->ae_title;
  node->spool = set->spool;
  for (const gchar * const *c = set->allowed_callers; c && *c; c++)
    node->callers.push_back (*c);
  node->received = set->received;
  node->refused = set->refused;
  node->stopped = set->stopped;
  node->user_data = set->user_data;
  node->pool = new Pool (*node);

  DcmSCPConfig & config = node->pool->getConfig ();
  OFList < OFString > syntaxes;
  for (const char *syntax:SYNTAXES)
    syntaxes.push_back (syntax);
  OFList < OFString > echo;
  echo.push_back (UID_LittleEndianImplicitTransferSyntax);
  config.setPort (set->port);
  config.setAETitle (set->ae_title);
  config.setRespondWithCalledAETitle (OFFalse);
  config.setHostLookupEnabled (OFFalse);
  /* the listen loop looks every second whether it is to stop */
  config.setConnectionBlockingMode (DUL_NOBLOCK);
  config.setConnectionTimeout (1);
  config.setACSETimeout (30);
  config.setDIMSEBlockingMode (DIMSE_NONBLOCKING);
  config.setDIMSETimeout (60);
  config.addPresentationContext (UID_VerificationSOPClass, echo);
  for (const char *sop_class:IMAGE_CLASSES)
    config.addPresentationContext (sop_class, syntaxes);
  node->pool->setMaxThreads ((Uint16) MAX (1, MIN (set->max_associations,
              G_MAXUINT16)));
  g_mutex_init (&node->lock);
  g_cond_init (&node->ended);
  node->listening = TRUE;
  node->thread = g_thread_new ("cxr-dicom-listen", listen_loop, node);
  return node;
}

extern "C" CxrDicomListener *
cxr_dicom_listener_new (const CxrDicomListenerSettings * settings,
    GError ** error)
{
  /* a C++ exception into C code (GStreamer's threads) ends the process */
  try {
    return listener_new (settings, error);
  } catch (const std::exception & e) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot start the "
        "DICOM node: %s", e.what ());
  }
  return NULL;
}

extern "C" void
cxr_dicom_listener_free (CxrDicomListener * node)
{
  if (!node)
    return;
  /* A stop asked for before the thread is in listen () is lost, for
   * listen () begins by setting its run mode: asked again until the loop
   * ends, which looks every second whether it is to stop. */
  g_mutex_lock (&node->lock);
  while (node->listening) {
    node->pool->stopAfterCurrentAssociations ();
    g_cond_wait_until (&node->ended, &node->lock,
        g_get_monotonic_time () + 2 * G_TIME_SPAN_SECOND);
  }
  g_mutex_unlock (&node->lock);
  g_thread_join (node->thread);
  delete node->pool;            /* waits for the associations under way */
  g_mutex_clear (&node->lock);
  g_cond_clear (&node->ended);
  delete node;
}
