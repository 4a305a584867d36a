;;; little-coder-eglot.el --- Eglot additions for little-coder's language server  -*- lexical-binding: t -*-

;;; Commentary:

;; Load this after Eglot (`(with-eval-after-load 'eglot (load ".../little-coder-eglot.el"))').  It adds to
;; Eglot what little-coder's language server uses and older Eglots lack, and is harmless for any other server:
;;
;; - Progress.  Eglot 1.9 -- the one Emacs 28 gets, e.g. Debian's elpa-eglot -- neither announces nor shows
;;   LSP work-done progress, so the server sends none and a session that thinks for minutes looks dead.
;;   Here it is announced, and each `$/progress' goes into Eglot's own mode-line indicator:
;;       [eglot:project/little-coder: implement `is_leap' · turn 1/20 · thinking 812/2048 5%]
;;   Eglot 1.10 and later (Emacs 29) show progress themselves; then this part does nothing.
;; - Show diff.  Eglot before Emacs 30 has no `window/showDocument': the diff the server writes when you
;;   choose "Show diff" is shown here, in another window, while the question waits in the minibuffer.
;; - Edits reported at once.  Eglot tells the server about a change from an idle timer, and after a question
;;   in the minibuffer (the server's "Apply?", Eglot's "Proceed?") that timer does not fire before the next
;;   key: the server would learn of the edit it asked for only then, and report it as not applied.  Here
;;   the change is sent as soon as the edit is in.

;;; Code:

(require 'eglot)

(defconst little-coder-eglot--add-progress (not (boundp 'eglot-report-progress))
  "Non-nil when this Eglot shows no LSP progress (Eglot 1.9 and older).")

(defconst little-coder-eglot--add-show-document
  (not (cl-find-method #'eglot-handle-request nil '(t (eql window/showDocument))))
  "Non-nil when this Eglot cannot show a document the server asks it to.")

(cl-defmethod eglot-client-capabilities :around (_server)
  (let* ((capabilities (cl-call-next-method))
         (window (plist-get capabilities :window)))
    (when little-coder-eglot--add-progress
      (setq window (plist-put window :workDoneProgress t)))
    (when little-coder-eglot--add-show-document
      (setq window (plist-put window :showDocument '(:support t))))
    (plist-put capabilities :window window)))

(cl-defmethod eglot-handle-request :after (server (_method (eql workspace/applyEdit)) &rest _)
  "Send the changes SERVER's edit made at once, not at the next idle time."
  (dolist (buffer (eglot--managed-buffers server))
    (with-current-buffer buffer
      (eglot--signal-textDocument/didChange))))

(when little-coder-eglot--add-show-document
  (cl-defmethod eglot-handle-request (_server (_method (eql window/showDocument)) &key uri &allow-other-keys)
    "Show URI in another window; the focus stays for the question that follows."
    ;; From a timer: inside the handler Eglot still takes this server for the current one, and would manage
    ;; the diff's new buffer with it.
    (let ((path (eglot--uri-to-path uri)))
      (run-with-timer 0 nil (lambda () (display-buffer (find-file-noselect path)))))
    '(:success t)))

(when little-coder-eglot--add-progress
  (cl-defmethod eglot-handle-request (_server (_method (eql window/workDoneProgress/create)) &rest _)
    "Accept the server's progress token; `$/progress' carries the rest."
    nil)

  (defvar little-coder-eglot--titles (make-hash-table :test #'equal)
    "The title of each progress still open, by token: reports carry only a message.")

  (cl-defmethod eglot-handle-notification (server (_method (eql $/progress)) &key token value)
    "Show VALUE of progress TOKEN in SERVER's mode-line indicator."
    (let ((kind (plist-get value :kind))
          (text (plist-get value :message))
          (percentage (plist-get value :percentage)))
      (when (equal kind "begin")
        (puthash token (plist-get value :title) little-coder-eglot--titles))
      ;; The spinner is (TOKEN DOING DONE-P); Eglot's mode line shows DOING until DONE-P.  Eglot resets it
      ;; when it sends a change, so the next report brings the progress back.
      (setf (eglot--spinner server)
            (if (equal kind "end")
                (progn (remhash token little-coder-eglot--titles) (list token nil t))
              (list token
                    (concat (gethash token little-coder-eglot--titles "")
                            (and text (concat " · " text))
                            ;; %% twice: the mode line reads the text as a format of its own.
                            (and percentage (format " %d%%%%" percentage)))
                    nil)))
      (force-mode-line-update t))))

(provide 'little-coder-eglot)
;;; little-coder-eglot.el ends here
