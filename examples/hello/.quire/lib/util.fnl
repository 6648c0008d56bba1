;; Helpers shared by the jobs in ci.fnl, loaded with (require :lib.util).

(fn version [push]
  "A tag's name, or the branch and the short sha."
  (or push.tag
      (.. (or push.branch "detached") "-" (string.sub push.sha 1 7))))

{: version}
