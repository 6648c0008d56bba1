;; The pipeline `quire demo` pushes: four jobs that show the job graph,
;; outputs passed between jobs, a skipped job and redacted secrets.

(local ci (require :quire.ci))
(local notes (require :lib.notes))

;; Every job lists its inputs; `quire/push` is the push itself.
(ci.job :build [:quire/push]
  (fn [{: sh : jobs}]
    (let [push (jobs :quire/push)
          version (string.sub push.sha 1 10)]
      (sh ["echo" "building" push.repo "at" version])
      (sh "mkdir -p out && echo 'demo artifact' > out/artifact.txt")
      ;; The returned table is this job's outputs.
      {: version :artifact "out/artifact.txt"})))

;; `test` reads `build`'s outputs through `jobs`.
(ci.job :test [:build]
  (fn [{: sh : jobs}]
    (let [build (jobs :build)
          result (sh ["wc" "-c" build.artifact])]
      (sh (.. "echo tested version " build.version))
      {:artifact-bytes (tonumber (string.match result.stdout "%d+"))})))

;; `publish` reads two secrets. Whatever it prints is recorded with
;; each value replaced by `{{ name }}`.
(ci.job :publish [:test]
  (fn [{: sh : secret : jobs : log}]
    (let [token (secret :registry-token)
          key (secret :deploy-key)]
      (log (notes.summary (jobs :test)))
      (sh "echo \"logging in with token $TOKEN\"" {:env {:TOKEN token}})
      (sh ["printf" "deploy key:\\n%s\\n" key])
      {:published true})))

;; Returning nil skips a job: release notes only run for tags.
(ci.job :release-notes [:quire/push]
  (fn [{: jobs}]
    (let [push (jobs :quire/push)]
      (when push.tag
        {:notes (.. "release " push.tag)}))))
