/* A DICOM node stored in by C-STORE (dicomnode.h), with DCMTK's DcmSCU. */
#include "dicomnode.h"
#include "dicom.h"
#include "dicomfile.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmnet/scu.h>

#include <exception>
#include <string>
#include <string.h>

/* seconds before each try after the first */
static const int BACK_OFF[] = { 1, 2, 4, 8, 16 };

struct _CxrDicomNode
{
  std::string called, calling, host, name;
  guint16 port;
};

extern "C" gboolean
cxr_dicom_ae_title_is_valid (const gchar * ae)
{
  size_t n = ae ? strlen (ae) : 0;
  return n >= 1 && n <= 16 && !strchr (ae, '\\')
      && strspn (ae, " ") < n;
}

extern "C" CxrDicomNode *
cxr_dicom_node_new (const gchar * url, const gchar * calling_ae,
    GError ** error)
{
  GUri *uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const gchar *user = uri ? g_uri_get_userinfo (uri) : NULL;
  CxrDicomNode *node = NULL;

  if (!uri || g_strcmp0 (g_uri_get_scheme (uri), "dicom") != 0 || !user
      || !cxr_dicom_ae_title_is_valid (user) || !g_uri_get_host (uri)
      || g_uri_get_port (uri) < 1 || g_uri_get_port (uri) > 65535)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "'%s' is not a DICOM node: it takes dicom://AET@HOST:PORT, the "
        "node's AE title (1 to 16 characters), host and port", url);
  else if (!cxr_dicom_ae_title_is_valid (calling_ae))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "'%s' is not an AE title: 1 to 16 characters, no backslash",
        calling_ae ? calling_ae : "");
  else {
    node = new CxrDicomNode;
    node->called = user;
    node->calling = calling_ae;
    node->host = g_uri_get_host (uri);
    node->port = (guint16) g_uri_get_port (uri);
    node->name = node->called + "@" + node->host + ":"
        + std::to_string (node->port);
  }
  if (uri)
    g_uri_unref (uri);
  return node;
}

extern "C" void
cxr_dicom_node_free (CxrDicomNode * node)
{
  delete node;
}

/* how one try ended */
enum Outcome
{ STORED, REFUSED, REJECTED, BROKEN };

/* one association, one C-STORE of dataset; what went wrong in why */
static Outcome
store_once (CxrDicomNode * node, DcmDataset * dataset,
    const OFString & sop_class, std::string & why)
{
  DcmSCU scu;
  OFList < OFString > syntaxes;
  Uint16 status = 0;
  OFCondition cond;

  syntaxes.push_back (UID_LittleEndianExplicitTransferSyntax);
  syntaxes.push_back (UID_LittleEndianImplicitTransferSyntax);
  scu.setAETitle (node->calling.c_str ());
  scu.setPeerAETitle (node->called.c_str ());
  scu.setPeerHostName (node->host.c_str ());
  scu.setPeerPort (node->port);
  scu.setACSETimeout (30);
  scu.setDIMSEBlockingMode (DIMSE_NONBLOCKING);
  scu.setDIMSETimeout (60);
  scu.setVerbosePCMode (OFFalse);
  if ((cond = scu.addPresentationContext (sop_class, syntaxes)).bad ()
      || (cond = scu.initNetwork ()).bad ()) {
    why = std::string ("the network: ") + cond.text ();
    return BROKEN;
  }
  cond = scu.negotiateAssociation ();
  if (cond == DUL_ASSOCIATIONREJECTED || cond == NET_EC_NoAcceptablePresentationContexts) {
    why = std::string ("the node rejected the association: ") + cond.text ();
    return REJECTED;
  }
  if (cond.bad ()) {
    why = std::string ("no association: ") + cond.text ();
    return BROKEN;
  }
  T_ASC_PresentationContextID context = scu.findPresentationContextID (
      sop_class, "");
  if (context == 0) {
    scu.releaseAssociation ();
    why = "the node takes no object of this SOP class";
    return REJECTED;
  }
  cond = scu.sendSTORERequest (context, "", dataset, status);
  if (cond.bad ()) {
    scu.abortAssociation ();
    why = std::string ("the association broke: ") + cond.text ();
    return BROKEN;
  }
  scu.releaseAssociation ();
  /* success, or a warning (coercion, elements discarded): stored */
  if (status == 0x0000 || (status & 0xf000) == 0xb000)
    return STORED;
  char hex[8];
  g_snprintf (hex, sizeof hex, "%04x", status);
  why = std::string ("the node answered failure status 0x") + hex;
  return REFUSED;
}

/* waits seconds unless cancellable is cancelled: FALSE when it is */
static gboolean
wait (int seconds, GCancellable * cancellable)
{
  for (int tenths = 0; tenths < 10 * seconds; tenths++) {
    if (g_cancellable_is_cancelled (cancellable))
      return FALSE;
    g_usleep (G_USEC_PER_SEC / 10);
  }
  return !g_cancellable_is_cancelled (cancellable);
}

static gboolean
store (CxrDicomNode * node, GBytes * file, GCancellable * cancellable,
    GError ** error)
{
  DcmFileFormat object;
  CxrDicomSource source;
  DcmDataset *dataset = cxr_dicom_source_read (file, object, source,
      "a C-STORE", error);
  std::string why;

  if (!dataset)
    return FALSE;
  for (guint attempt = 0;; attempt++) {
    if (g_cancellable_set_error_if_cancelled (cancellable, error))
      return FALSE;
    switch (store_once (node, dataset, source.sop_class, why)) {
      case STORED:
        return TRUE;
      case REFUSED:
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
            "%s refused the object: %s", node->name.c_str (), why.c_str ());
        return FALSE;
      case REJECTED:
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
            "%s, called as %s by %s: %s", node->name.c_str (),
            node->called.c_str (), node->calling.c_str (), why.c_str ());
        return FALSE;
      case BROKEN:
        break;
    }
    if (attempt == G_N_ELEMENTS (BACK_OFF)) {
      int waited = 0;
      for (int seconds : BACK_OFF)
        waited += seconds;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s, %u tries "
          "over %d s", node->name.c_str (), why.c_str (), attempt + 1,
          waited);
      return FALSE;
    }
    if (!wait (BACK_OFF[attempt], cancellable))
      return !g_cancellable_set_error_if_cancelled (cancellable, error);
  }
}

extern "C" gboolean
cxr_dicom_node_store (CxrDicomNode * node, GBytes * file,
    GCancellable * cancellable, GError ** error)
{
  /* a C++ exception into C code (GStreamer's threads) ends the process */
  try {
    return store (node, file, cancellable, error);
  } catch (const std::exception & e) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s",
        node->name.c_str (), e.what ());
  } catch (...) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: the toolkit "
        "failed", node->name.c_str ());
  }
  return FALSE;
}
