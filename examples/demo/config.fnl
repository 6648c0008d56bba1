;; The server settings `quire demo` writes into its data directory:
;; two secrets, served to quire-ci over the API transport.
{:secrets {:registry-token "demo-registry-token-3c9e51a7d2"
           :deploy-key "-----BEGIN DEMO KEY-----\nZGVtby1kZXBsb3kta2V5LWxpbmUtb25l\nZGVtby1kZXBsb3kta2V5LWxpbmUtdHdv\n-----END DEMO KEY-----"}
 :ci {:transport :api}}
