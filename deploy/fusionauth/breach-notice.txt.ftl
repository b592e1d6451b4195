[#ftl output_format="plainText"]
[#-- The text part of the notify-user email: see breach-notice.html.ftl for the variables and for what
     FusionAuth escapes (nothing, unless the template declares an output format). A text/plain part shows
     markup as the characters it is made of, so nothing needs escaping here: plainText says so explicitly
     (HTML escaping would show the user &amp; and &lt;). What a mail client could still make of it — a link from
     a bare URL — the bridge prevents by defanging what it sends ("evil[.]example/reset"). --]
Hello ${(user.firstName)!"there"},

The email address ${user.email} appeared in a data breach: ${requestData.exposureTitle!"an unnamed breach"}[#if requestData.breachDate??] (${requestData.breachDate})[/#if].
[#if requestData.exposedData?? && requestData.exposedData?size > 0]
The exposed data included: ${requestData.exposedData?join(", ")}.
[/#if]

The breach was not of our systems, but if you used the same password here, someone else may know it.
Please change your password now, and anywhere else you used it.
[#if requestData.graceDeadline??]
[#assign graceAction = requestData.graceAction!"other"]

Unless your password is changed by ${requestData.graceDeadline}, [#if graceAction == "deactivate"]your account will be deactivated to protect it.[#elseif graceAction == "require-password-change"]you will have to choose a new password the next time you sign in.[#elseif graceAction == "revoke-sessions"]you will be signed out on every device.[#else]we will take further steps to protect your account.[/#if]
Changing it before then is all you need to do.
[/#if]

Reference: ${requestData.alertId!""}
