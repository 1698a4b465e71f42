/* Element tests for cxrdicomsrc, through gst-check's harness, with DCMTK's
 * img2dcm (a sample film, CXR_SAMPLE_FILMS, made a chest radiograph) and
 * storescu (the sender) from Debian's dcmtk; skipped without them.
 *
 * - A film sent by C-STORE comes out as one framed application/dicom
 *   buffer, the whole file, with the header meta: its SOP Instance UID as
 *   source, modality CR and body part CHEST, and its data set without the
 *   pixels (a DICOM file of the same object, much smaller than the film).
 * - It waits in the spool until the upstream "cxr-film-done" event for it;
 *   then its spool file is gone.
 * - A film not let go before the element stops is pushed again, first, by
 *   the next element started on the same spool. */
#define _GNU_SOURCE             /* memmem */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#include "dicom.h"
#include "filmdone.h"
#include "gst/cxr/cxrmeta.h"
#include "testdata.h"

static gchar *work_dir;         /* NULL: the tools are missing */
static gchar *films[2];         /* two films, distinct SOP Instance UIDs */

/* runs argv (NULL-terminated) in work_dir; TRUE on exit status 0 */
static gboolean
run_tool (const gchar ** argv)
{
  gint status = -1;
  gchar *err = NULL;
  gboolean ok = g_spawn_sync (work_dir, (gchar **) argv, NULL,
      G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
      &err, &status, NULL) && g_spawn_check_wait_status (status, NULL);

  if (!ok)
    g_printerr ("%s failed: %s\n", argv[0], err ? err : "");
  g_free (err);
  return ok;
}

static guint
free_port (void)
{
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL);
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *any = g_inet_socket_address_new (lo, 0), *bound;
  guint port;

  g_socket_bind (s, any, TRUE, NULL);
  bound = g_socket_get_local_address (s, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_object_unref (bound);
  g_object_unref (any);
  g_object_unref (lo);
  g_object_unref (s);
  return port;
}

static gchar *
sop_instance_uid (const gchar * path)
{
  CxrDicomOptions header_only = {.header_only = TRUE };
  gchar *data;
  gsize size;
  CxrDicom *d;
  gchar *uid;

  fail_unless (g_file_get_contents (path, &data, &size, NULL));
  d = cxr_dicom_open_memory ((guint8 *) data, size, &header_only, NULL);
  fail_unless (d != NULL, "%s does not parse", path);
  uid = g_strdup (cxr_dicom_get_sop_instance_uid (d));
  cxr_dicom_free (d);
  g_free (data);
  return uid;
}

static GstHarness *
start_node (guint port, const gchar * spool)
{
  GstHarness *h = gst_harness_new ("cxrdicomsrc");

  g_object_set (h->element, "port", port, "ae-title", "CXR",
      "spool-location", spool, NULL);
  gst_harness_play (h);
  return h;
}

static void
send_film (guint port, const gchar * film)
{
  gchar *p = g_strdup_printf ("%u", port);
  const gchar *argv[] = { "storescu", "-aet", "SENDER", "-aec", "CXR", "-xy",
    "127.0.0.1", p, film, NULL
  };

  fail_unless (run_tool (argv), "storescu could not send %s", film);
  g_free (p);
}

static gboolean
in_spool (const gchar * spool, const gchar * uid)
{
  gchar *name = g_strconcat (uid, ".dcm", NULL);
  gchar *path = g_build_filename (spool, name, NULL);
  gboolean there = g_file_test (path, G_FILE_TEST_EXISTS);

  g_free (path);
  g_free (name);
  return there;
}

GST_START_TEST (test_film_out_with_header_meta)
{
  guint port = free_port ();
  gchar *spool = g_build_filename (work_dir, "spool-meta", NULL);
  gchar *uid = sop_instance_uid (films[0]);
  GstHarness *h = start_node (port, spool);
  GstBuffer *buf;
  GstCaps *caps;
  GstMapInfo map;
  GstCxrLabelMeta *label;
  const guint8 *header;
  gsize header_size;
  gboolean framed = FALSE;
  gint64 deadline;

  send_film (port, films[0]);
  buf = gst_harness_pull (h);
  fail_unless (buf != NULL);

  caps = gst_pad_get_current_caps (h->sinkpad);
  fail_unless (gst_structure_has_name (gst_caps_get_structure (caps, 0),
          "application/dicom"));
  gst_structure_get_boolean (gst_caps_get_structure (caps, 0), "framed",
      &framed);
  fail_unless (framed, "caps %" GST_PTR_FORMAT " do not say framed", caps);
  gst_caps_unref (caps);

  /* the whole Part 10 file */
  gst_buffer_map (buf, &map, GST_MAP_READ);
  fail_unless (map.size > 132 && memcmp (map.data + 128, "DICM", 4) == 0);
  gst_buffer_unmap (buf, &map);

  label = gst_buffer_get_cxr_label_meta (buf);
  fail_unless (label != NULL, "no header meta");
  fail_unless_equals_string (label->source, uid);
  fail_unless_equals_string (label->modality, "CR");
  fail_unless_equals_string (label->body_part, "CHEST");
  fail_unless_equals_int (label->dicom_frame, 0);
  fail_unless (gst_cxr_label_meta_get_dicom_header (label) != NULL,
      "no header in the meta");
  /* a DICOM file of the same object (a UID is its ASCII digits) */
  header = g_bytes_get_data (gst_cxr_label_meta_get_dicom_header (label),
      &header_size);
  fail_unless (header_size > 132 && memcmp (header + 128, "DICM", 4) == 0);
  fail_unless (memmem (header, header_size, uid, strlen (uid)) != NULL,
      "the header is not of film %s", uid);
  fail_unless (header_size < gst_buffer_get_size (buf) / 2,
      "a %" G_GSIZE_FORMAT "-byte header of a %" G_GSIZE_FORMAT "-byte film: "
      "the pixels are in it", header_size, gst_buffer_get_size (buf));
  gst_buffer_unref (buf);

  /* kept until its results are out */
  fail_unless (in_spool (spool, uid));
  fail_unless (gst_harness_push_upstream_event (h,
          gst_cxr_film_done_new (uid)));
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (in_spool (spool, uid) && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  fail_unless (!in_spool (spool, uid), "the film stays in the spool");

  gst_harness_teardown (h);
  test_remove_tree (spool);
  g_free (spool);
  g_free (uid);
}

GST_END_TEST;

GST_START_TEST (test_film_pushed_again_after_restart)
{
  guint port = free_port ();
  gchar *spool = g_build_filename (work_dir, "spool-restart", NULL);
  gchar *uid = sop_instance_uid (films[1]);
  GstHarness *h = start_node (port, spool);
  GstBuffer *buf;
  GstCxrLabelMeta *label;

  send_film (port, films[1]);
  buf = gst_harness_pull (h);
  fail_unless (buf != NULL);
  gst_buffer_unref (buf);
  /* stopped before its results are out */
  gst_harness_teardown (h);
  fail_unless (in_spool (spool, uid));

  h = start_node (free_port (), spool);
  buf = gst_harness_pull (h);
  fail_unless (buf != NULL);
  label = gst_buffer_get_cxr_label_meta (buf);
  fail_unless (label != NULL);
  fail_unless_equals_string (label->source, uid);
  gst_buffer_unref (buf);
  gst_harness_teardown (h);

  test_remove_tree (spool);
  g_free (spool);
  g_free (uid);
}

GST_END_TEST;

/* two chest radiographs of the sample films, or work_dir NULL */
static void
make_films (void)
{
  const gchar *samples = g_getenv ("CXR_SAMPLE_FILMS");
  gchar *jpeg[2];

  if (!samples || !g_find_program_in_path ("img2dcm")
      || !g_find_program_in_path ("storescu")) {
    test_missing ("DCMTK's img2dcm and storescu (Debian package dcmtk), "
        "and CXR_SAMPLE_FILMS");
    return;
  }
  work_dir = g_dir_make_tmp ("cxr-dicomsrc-XXXXXX", NULL);
  jpeg[0] = g_build_filename (samples, "NORMAL", "IM-0199-0001.jpeg", NULL);
  jpeg[1] = g_build_filename (samples, "PNEUMONIA",
      "person1003_virus_1685.jpeg", NULL);
  for (int i = 0; i < 2; i++) {
    const gchar *argv[] = { "img2dcm", jpeg[i], NULL, "-k", "Modality=CR",
      "-k", "BodyPartExamined=CHEST", NULL
    };
    films[i] = g_build_filename (work_dir, i ? "b.dcm" : "a.dcm", NULL);
    argv[2] = films[i];
    if (!run_tool (argv))
      g_error ("img2dcm cannot make a film of %s", jpeg[i]);
    g_free (jpeg[i]);
  }
}

static Suite *
dicomsrc_suite (void)
{
  Suite *s = suite_create ("cxrdicomsrc");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  if (work_dir) {
    tcase_add_test (tc, test_film_out_with_header_meta);
    tcase_add_test (tc, test_film_pushed_again_after_restart);
  }
  return s;
}

int
main (int argc, char **argv)
{
  int failed;

  gst_check_init (&argc, &argv);
  make_films ();
  failed = gst_check_run_suite (dicomsrc_suite (), "cxrdicomsrc", __FILE__);
  if (work_dir) {
    test_remove_tree (work_dir);
    g_free (films[0]);
    g_free (films[1]);
  }
  return test_exit_status (failed);
}
