[#-- enzoic-fusionauth-bridge: the email the notify-user action asks FusionAuth to send.
     Create it in FusionAuth (Customizations → Email Templates → Add), paste this as the HTML template and
     breach-notice.txt.ftl as the text template, then use its id: BRIDGE_ACTIONS=notify-user:<templateId>,…
     Variables (all plain text, already cleaned and bounded by the bridge; FreeMarker escapes them again):
       user.*                          the FusionAuth user (firstName, email, …)
       requestData.exposureTitle       e.g. "Example Forum"
       requestData.breachDate          YYYY-MM-DD, when known
       requestData.exposedData         list of the kinds of data exposed, e.g. ["Emails", "Passwords"]
       requestData.alertId             the bridge's alert id (for your helpdesk)
       requestData.graceDeadline       ISO time the account will be deactivated unless the password is
                                       changed; absent when no grace period applies --]
<p>Hello ${(user.firstName)!"there"},</p>

<p>The email address <strong>${user.email}</strong> appeared in a data breach:
<strong>${requestData.exposureTitle!"an unnamed breach"}</strong>[#if requestData.breachDate??] (${requestData.breachDate})[/#if].</p>

[#if requestData.exposedData?? && requestData.exposedData?size > 0]
<p>The exposed data included: ${requestData.exposedData?join(", ")}.</p>
[/#if]

<p>The breach was not of our systems, but if you used the same password here, someone else may know it.
Please change your password now, and anywhere else you used it.</p>

[#if requestData.graceDeadline??]
<p><strong>Unless your password is changed by ${requestData.graceDeadline}, your account will be
deactivated</strong> to protect it. Changing it before then is all you need to do.</p>
[/#if]

<p>Reference: ${requestData.alertId!""}</p>
