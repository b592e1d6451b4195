[#ftl output_format="HTML"]
[#-- enzoic-fusionauth-bridge: the email the notify-user action asks FusionAuth to send.
     Create it in FusionAuth (Customizations → Email Templates → Add), paste this as the HTML template and
     breach-notice.txt.ftl as the text template, then use its id: BRIDGE_ACTIONS=notify-user:<templateId>,…

     Escaping. FusionAuth renders email templates with FreeMarker (square-bracket tags) and configures no output
     format, so nothing is escaped unless the template itself asks (FusionAuth issue #2715): without the first
     line above, a breach titled <a href="…">Reset your password here</a> would arrive as a working link. That
     line declares the HTML output format: every ${…} below is HTML-escaped. Keep it the very first line; never
     add ?no_esc. user.firstName is whatever the user (or a registration form) typed: escaped like the rest.
     The bridge also defangs what it sends (no < >, no link: "evil[.]example/reset"), because mail clients turn
     bare URLs and domain names into links even in escaped text.

     Variables:
       user.*                          the FusionAuth user (firstName, email, …)
       requestData.exposureTitle       the breach, e.g. "Example Forum" (absent when unknown)
       requestData.breachDate          when it happened, as precisely as Enzoic knows: "2019", "March 2019" or
                                       "14 March 2019" (absent when unknown)
       requestData.exposedData         the kinds of data exposed, e.g. ["Emails", "Passwords"]
       requestData.alertId             the bridge's alert id (for your helpdesk)
       requestData.graceDeadline       when the grace period ends, in the user's time zone (else UTC), e.g.
                                       "Friday, 27 November 2026 at 15:05 CET"; absent without a grace period
       requestData.graceAction         what happens then unless the password is changed (BRIDGE_GRACE_ACTIONS):
                                       deactivate, require-password-change, revoke-sessions or other --]
<p>Hello ${(user.firstName)!"there"},</p>

<p>The email address <strong>${user.email}</strong> appeared in a data breach:
<strong>${requestData.exposureTitle!"an unnamed breach"}</strong>[#if requestData.breachDate??] (${requestData.breachDate})[/#if].</p>

[#if requestData.exposedData?? && requestData.exposedData?size > 0]
<p>The exposed data included: ${requestData.exposedData?join(", ")}.</p>
[/#if]

<p>The breach was not of our systems, but if you used the same password here, someone else may know it.
Please change your password now, and anywhere else you used it.</p>

[#if requestData.graceDeadline??]
[#assign graceAction = requestData.graceAction!"other"]
<p><strong>Unless your password is changed by ${requestData.graceDeadline},
[#if graceAction == "deactivate"]your account will be deactivated to protect it.
[#elseif graceAction == "require-password-change"]you will have to choose a new password the next time you sign in.
[#elseif graceAction == "revoke-sessions"]you will be signed out on every device.
[#else]we will take further steps to protect your account.
[/#if]</strong> Changing it before then is all you need to do.</p>
[/#if]

<p>Reference: ${requestData.alertId!""}</p>
