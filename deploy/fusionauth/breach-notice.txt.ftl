[#-- The text part of the notify-user email: see breach-notice.html.ftl for the variables. --]
Hello ${(user.firstName)!"there"},

The email address ${user.email} appeared in a data breach: ${requestData.exposureTitle!"an unnamed breach"}[#if requestData.breachDate??] (${requestData.breachDate})[/#if].
[#if requestData.exposedData?? && requestData.exposedData?size > 0]
The exposed data included: ${requestData.exposedData?join(", ")}.
[/#if]

The breach was not of our systems, but if you used the same password here, someone else may know it.
Please change your password now, and anywhere else you used it.
[#if requestData.graceDeadline??]

Unless your password is changed by ${requestData.graceDeadline}, your account will be deactivated to
protect it. Changing it before then is all you need to do.
[/#if]

Reference: ${requestData.alertId!""}
