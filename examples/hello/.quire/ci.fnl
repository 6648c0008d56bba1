;; The example pipeline: build, test what the build reported, and a
;; release job that runs only for tags. Run it from the repository root:
;;   cargo run --release -p quire-ci -- run --workspace examples/hello

(local ci (require :quire.ci))
(local std (require :quire.stdlib))
(local util (require :lib.util))

(ci.image "alpine:3.20")

(ci.job :build [:quire/push]
  (fn [{: sh : jobs : log}]
    (let [push (jobs :quire/push)
          version (util.version push)
          files (sh ["ls" "-1" ".quire"])]
      (log "building" version "from" push.repo)
      (sh (.. "echo compiling " (std.shell-quote version)))
      {:version version
       :files (std.lines files.stdout)})))

(ci.job :test [:build]
  (fn [{: sh : jobs}]
    (let [build (jobs :build)
          check (sh ["test" "-n" build.version])]
      (when (not= check.exit 0)
        (error "the build reported no version"))
      (sh "echo 1 test passed" {:env {:VERSION build.version}})
      {:tested build.version
       :count (length build.files)})))

(ci.job :release [:test]
  (fn [{: jobs : log}]
    (let [push (jobs :quire/push)]
      (if push.tag
          (do
            (log "releasing" push.tag)
            {:released push.tag})
          ;; Returning nil skips the job: only tags are released.
          nil))))
