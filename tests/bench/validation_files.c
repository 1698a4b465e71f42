/* validation_files — which files of a labelled folder cxrtrain holds out
 * for validation, for a given seed and fraction: the patient-wise split of
 * kernels/train/trainer.h, with the patient from the file name (plugin/io/patient.h,
 * the Kermany rule) and the class from the folder the file is in.
 *
 *   validation_files SEED FRACTION CLASS,CLASS... < FILES > VALIDATION
 *
 * FILES: one "CLASS/NAME" a line (the "file" key of cxrmetasink's lines);
 * prints those in validation, one a line. */
#include "patient.h"
#include "trainer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main (int argc, char **argv)
{
  GRegex *rule = cxr_patient_regex_new (CXR_KERMANY_PATIENT_PATTERN, NULL);
  CxrDataset *ds = cxr_dataset_new (1);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  gchar **classes, line[4096];
  const float pixel = 0.0f;
  int *train, *val, n_train, n_val;

  if (argc != 4) {
    fprintf (stderr, "usage: validation_files SEED FRACTION CLASSES < FILES\n");
    return 2;
  }
  classes = g_strsplit (argv[3], ",", -1);
  while (fgets (line, sizeof line, stdin)) {
    gchar *slash = strchr (line, '/'), *patient;
    int label = -1;

    line[strcspn (line, "\n")] = '\0';
    if (!slash)
      continue;
    for (int c = 0; classes[c]; c++)
      if (strncmp (line, classes[c], slash - line) == 0
          && classes[c][slash - line] == '\0')
        label = c;
    if (label < 0)
      continue;
    patient = cxr_patient_from_name (rule, line);
    cxr_dataset_add (ds, &pixel, label, patient);
    g_ptr_array_add (names, g_strdup (line));
    g_free (patient);
  }
  cxr_dataset_split (ds, atof (argv[2]), strtoull (argv[1], NULL, 10),
      &train, &n_train, &val, &n_val);
  for (int i = 0; i < n_val; i++)
    printf ("%s\n", (const char *) g_ptr_array_index (names, val[i]));
  g_free (train);
  g_free (val);
  g_ptr_array_unref (names);
  cxr_dataset_free (ds);
  g_strfreev (classes);
  g_regex_unref (rule);
  return 0;
}
