// A step's in-flight marker: set (under the alert's lease) right before its FusionAuth call, so an attempt that
// resumes the alert knows the call may have happened and checks before repeating it.
export default 'ALTER TABLE steps ADD COLUMN started_at INTEGER;'
