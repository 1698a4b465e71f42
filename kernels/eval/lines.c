/* lines.c — cxrmetasink's JSON lines read back, renumbered and summed up
 * (see lines.h). A line has the keys cxrmetasink writes; a frame whose
 * "truth" is null counts as unlabelled. */
#include "lines.h"

#include <math.h>
#include <string.h>

#define SECOND G_GINT64_CONSTANT (1000000000)

void
cxr_lines_init (CxrLines * lines, const gchar * const *reasons,
    guint n_reasons)
{
  memset (lines, 0, sizeof *lines);
  cxr_summary_init (&lines->summary, reasons, n_reasons);
  lines->parser = json_parser_new ();
}

void
cxr_lines_clear (CxrLines * lines)
{
  cxr_summary_clear (&lines->summary);
  g_clear_object (&lines->parser);
}

static const gchar *
string_member (JsonObject * o, const gchar * name)
{
  JsonNode *n = json_object_get_member (o, name);

  return n && JSON_NODE_HOLDS_VALUE (n) ? json_node_get_string (n) : NULL;
}

/* the reason's index among the summary's names; 0: answered */
static guint
reason_index (const CxrSummary * s, const gchar * reason)
{
  if (reason == NULL)
    return 0;
  for (guint r = 1; r < s->n_reasons; r++)
    if (g_strcmp0 (s->reasons[r], reason) == 0)
      return r;
  return s->n_reasons - 1;      /* the catch-all */
}

/* what the summary counts of the line's object; FALSE when its classes
 * and probabilities do not match */
static gboolean
count (CxrSummary * s, JsonObject * o)
{
  JsonArray *classes = NULL, *probabilities = NULL;
  const gchar *names[CXR_MAX_CLASSES], *label;
  gfloat p[CXR_MAX_CLASSES];
  CxrSummaryFrame f = {.truth = string_member (o, "truth") };
  JsonNode *n = json_object_get_member (o, "classes");

  f.labelled = f.truth != NULL;
  if (n && JSON_NODE_HOLDS_ARRAY (n)) {
    classes = json_node_get_array (n);
    n = json_object_get_member (o, "probabilities");
    probabilities = n && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n)
        : NULL;
    if (!probabilities || json_array_get_length (probabilities)
        != json_array_get_length (classes)
        || json_array_get_length (classes) > CXR_MAX_CLASSES)
      return FALSE;
    f.classified = TRUE;
    f.n_classes = json_array_get_length (classes);
    label = string_member (o, "label");
    for (guint i = 0; i < f.n_classes; i++) {
      names[i] = json_array_get_string_element (classes, i);
      /* a null probability was not a number */
      p[i] = json_node_is_null (json_array_get_element (probabilities, i)) ?
          NAN : (gfloat) json_array_get_double_element (probabilities, i);
      if (label && g_strcmp0 (names[i], label) == 0)
        f.predicted = i;
    }
    f.classes = names;
    f.probabilities = p;
    f.threshold = (gfloat) json_object_get_double_member_with_default (o,
        "threshold", NAN);
    f.stale = json_object_get_boolean_member_with_default (o, "stale", FALSE);
    f.abstain_reason = reason_index (s, string_member (o, "reason"));
  }
  cxr_summary_add (s, &f);
  return TRUE;
}

gchar *
cxr_lines_take (CxrLines * lines, const gchar * line, gssize length,
    GError ** error)
{
  JsonGenerator *g;
  JsonNode *root;
  JsonObject *o;
  gint64 frame;
  GString *text;

  if (!json_parser_load_from_data (lines->parser, line, length, error))
    return NULL;
  root = json_parser_get_root (lines->parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root)
      || !json_object_has_member (o = json_node_get_object (root), "frame")
      || !count (&lines->summary, o)) {
    g_set_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA,
        "line %" G_GUINT64_FORMAT " is not a result cxrmetasink writes",
        lines->frames + 1);
    return NULL;
  }
  frame = json_object_get_int_member (o, "frame");
  if (json_object_get_int_member_with_default (o, "pts", -1) == frame * SECOND)
    json_object_set_int_member (o, "pts", (gint64) lines->frames * SECOND);
  json_object_set_int_member (o, "frame", (gint64) lines->frames);
  lines->frames++;

  g = json_generator_new ();
  json_generator_set_root (g, root);
  text = json_generator_to_gstring (g, g_string_new (NULL));
  g_string_append_c (text, '\n');
  g_object_unref (g);
  return g_string_free (text, FALSE);
}
