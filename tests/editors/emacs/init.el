;;; init.el --- Emacs 28 with Debian's Eglot 1.9, set up for little-coder as the README says  -*- lexical-binding: t -*-

;; Loaded by test_emacs_eglot.py as `emacs -nw -q -l init.el +6 leap.py' in tmux; the test drives the rest
;; with keys.  LC_TEST_REPO is the repository, LC_TEST_SETTINGS the little-coder settings (JSON), and
;; LC_TEST_MESSAGES where *Messages* is written when Emacs exits, for the test to read.

;; The test's HOME is new each run: compiling Eglot natively there would cost seconds and pop up warnings.
(setq native-comp-deferred-compilation nil
      native-comp-async-report-warnings-errors 'silent)

(require 'eglot)
(load (expand-file-name "clients/emacs/little-coder-eglot.el" (getenv "LC_TEST_REPO")) nil t)

(add-to-list 'eglot-server-programs
             `(python-mode . ("little-coder" "lsp"
                              :initializationOptions
                              (:littleCoder ,(json-parse-string (getenv "LC_TEST_SETTINGS")
                                                                :object-type 'plist)))))
(add-hook 'python-mode-hook #'eglot-ensure)

(setq inhibit-startup-screen t
      python-indent-guess-indent-offset-verbose nil)

(add-hook 'kill-emacs-hook
          (lambda ()
            ;; Eglot's log of the LSP traffic: the command it ran, what the server sent.
            (dolist (buffer (buffer-list))
              (when (string-match-p "\\`\\*EGLOT .* events\\*\\'" (buffer-name buffer))
                (with-current-buffer buffer
                  (write-region nil nil (getenv "LC_TEST_EVENTS")))))
            ;; Last: the test waits for this file.
            (with-current-buffer (messages-buffer)
              (write-region nil nil (getenv "LC_TEST_MESSAGES")))))
