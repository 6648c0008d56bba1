;; A helper module: `(require :lib.notes)` loads .quire/lib/notes.fnl.

(fn summary [test-outputs]
  (.. "publishing an artifact of " test-outputs.artifact-bytes " bytes"))

{: summary}
